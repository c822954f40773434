"""`trackline keys rotate`: re-encrypt every stored refresh token under a new secret key.

The old key is kept only until the rotation is done, and a crash at any point leaves a key that
opens every token:
- key file in the home: the file first holds `new,old` (either decrypts), then the tokens move
  to the new key in one transaction, then the file holds only the new key;
- key from TRACKLINE_SECRET_KEY: trackline cannot change the environment, and printing a key
  puts it in terminal scrollback and logs, so the new key is written to `--new-key-file`
  (mode 0600, never overwritten, outside the home) before any token moves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trackline.cli._state import store_for
from trackline.cli.common import err, out, print_json
from trackline.errors import UsageError

keys_app = typer.Typer(help="The secret key that encrypts stored refresh tokens.")


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


@keys_app.command("rotate")
def rotate(
    ctx: typer.Context,
    new_key_file: Annotated[
        Path | None,
        typer.Option(
            "--new-key-file",
            help="Where to write the new key when the key comes from TRACKLINE_SECRET_KEY "
            "(a new file, outside the home; mode 0600).",
            dir_okay=False,
        ),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Re-encrypt every stored refresh token under a new key, then drop the old key."""
    from cryptography.fernet import Fernet

    from trackline.state.crypto import (
        KEY_FILE,
        cipher_from_settings,
        rewrapper,
        write_key_file,
    )

    with store_for(ctx) as (settings, store):
        rewrap_tokens = getattr(store, "rewrap_tokens", None)
        if rewrap_tokens is None:
            raise UsageError(
                f"key rotation is not supported on the {store.scheme} state store yet; "
                "re-add each user's tokens under the new key instead"
            )
        from_env = settings.secret_key is not None
        if from_env:
            if new_key_file is None:
                raise UsageError(
                    "the key comes from TRACKLINE_SECRET_KEY: give --new-key-file PATH (a new "
                    "file outside the home) to receive the new key; it is never printed"
                )
            if new_key_file.exists():
                raise UsageError(f"--new-key-file {new_key_file} exists: give a new file")
            if _inside(new_key_file, settings.home):
                raise UsageError(
                    "--new-key-file must be outside the home: the key lives apart from the "
                    "data it protects"
                )
            if not new_key_file.parent.is_dir():
                raise UsageError(f"--new-key-file: folder {new_key_file.parent} does not exist")
        elif new_key_file is not None:
            raise UsageError(
                f"--new-key-file is for keys from TRACKLINE_SECRET_KEY; without it the key "
                f"file {KEY_FILE} in the home is rotated in place"
            )
        old = cipher_from_settings(settings)  # fails here if the current key is unusable
        new_key = Fernet.generate_key().decode("ascii")
        key_path = new_key_file if from_env else settings.home / KEY_FILE
        assert key_path is not None
        old_material = None if from_env else key_path.read_text(encoding="ascii").strip()
        if old_material is None:
            write_key_file(key_path, new_key, replace=False)
        else:
            write_key_file(key_path, f"{new_key},{old_material}", replace=True)
        try:
            rotated = rewrap_tokens(rewrapper(old, new_key.encode("ascii")))
        except BaseException:
            # Nothing moved (one transaction): the old key stays the key.
            if old_material is None:
                key_path.unlink(missing_ok=True)
            else:
                write_key_file(key_path, old_material, replace=True)
            raise
        if old_material is not None:
            write_key_file(key_path, new_key, replace=True)
    _report(rotated, from_env, key_path, json_)


def _report(rotated: int, from_env: bool, key_path: Path, json_: bool) -> None:
    where = str(key_path) if from_env else "the key file in the home"
    if json_:
        print_json({"rotated": rotated, "key_source": "env" if from_env else "file",
                    "new_key_file": str(key_path) if from_env else None})  # fmt: skip
    else:
        out.print(f"rotated {rotated} refresh tokens to a new key ({where})", markup=False)
    if from_env:
        err.print(
            f"set TRACKLINE_SECRET_KEY to the key in {key_path} now (the old key no longer "
            "opens any token), then keep that file somewhere safe or delete it",
            markup=False,
        )


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
