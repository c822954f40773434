"""`trackline users add|list|remove`: the people whose accounts trackline fetches.

Tokens are read from stdin or a file (--*-refresh-token-stdin, --*-refresh-token-file) and go
straight to the store, encrypted; no command prints, logs or echoes them (listings show only
each provider's status). The older --*-refresh-token flag still works but warns: an argument is
visible to every user of the machine in `ps`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trackline.cli._state import store_for, when
from trackline.cli.common import err, out, print_json

if TYPE_CHECKING:
    from trackline.state import User

group = typer.Typer(help="Users: add them (with existing refresh tokens), list, remove.")

PROVIDERS = ("spotify", "youtube")


def _status(user: User, provider: str) -> str:
    status = user.providers.get(provider)
    if status is None:
        return "-"
    reason = user.reauth_reasons.get(provider)
    return f"{status} ({reason})" if reason else status


_ARGV_WARNING = (
    "warning: --{p}-refresh-token puts the token on the command line, where other users of "
    "this machine can read it (ps, /proc) and your shell history keeps it; use "
    "--{p}-refresh-token-stdin or --{p}-refresh-token-file PATH instead"
)


def _read_tokens(
    given: dict[str, tuple[str | None, Path | None, bool]],
) -> dict[str, str]:
    """Each provider's token from its flag (warned), its file or stdin; at most one source each,
    and stdin for one provider only."""
    import sys

    from trackline.errors import UsageError

    stdin_for = [p for p, (_, _, use_stdin) in given.items() if use_stdin]
    if len(stdin_for) > 1:
        raise UsageError(
            "only one --*-refresh-token-stdin per call: give the other token with "
            "--*-refresh-token-file PATH"
        )
    tokens: dict[str, str] = {}
    for provider, (flag, path, use_stdin) in given.items():
        if sum((flag is not None, path is not None, use_stdin)) > 1:
            raise UsageError(
                f"give the {provider} refresh token one way: --{provider}-refresh-token-stdin, "
                f"--{provider}-refresh-token-file or --{provider}-refresh-token"
            )
        if flag is not None:
            err.print(_ARGV_WARNING.format(p=provider), markup=False)
            token = flag
        elif path is not None:
            try:
                token = path.read_text(encoding="utf-8")
            except (OSError, UnicodeError) as exc:
                raise UsageError(
                    f"cannot read --{provider}-refresh-token-file {path}: "
                    f"{exc.strerror if isinstance(exc, OSError) else 'not UTF-8 text'}"
                ) from None
        elif use_stdin:
            token = sys.stdin.read()
        else:
            continue
        token = token.strip()
        if not token:
            raise UsageError(f"an empty {provider} refresh token cannot be stored")
        tokens[provider] = token
    return tokens


@group.command("add")
def add(
    ctx: typer.Context,
    user_id: Annotated[str, typer.Argument(help="The user's id (e.g. their Spotify user id).")],
    spotify_refresh_token: Annotated[
        str | None,
        typer.Option(
            "--spotify-refresh-token",
            help="A Spotify refresh token (visible to other users in `ps`: prefer "
            "--spotify-refresh-token-stdin or -file).",
            show_default=False,
        ),
    ] = None,
    youtube_refresh_token: Annotated[
        str | None,
        typer.Option(
            "--youtube-refresh-token",
            help="A Google/YouTube refresh token (visible to other users in `ps`: prefer "
            "--youtube-refresh-token-stdin or -file).",
            show_default=False,
        ),
    ] = None,
    spotify_refresh_token_file: Annotated[
        Path | None,
        typer.Option(
            "--spotify-refresh-token-file",
            help="Read the Spotify refresh token from this file (stored encrypted).",
            dir_okay=False,
        ),
    ] = None,
    youtube_refresh_token_file: Annotated[
        Path | None,
        typer.Option(
            "--youtube-refresh-token-file",
            help="Read the Google/YouTube refresh token from this file (stored encrypted).",
            dir_okay=False,
        ),
    ] = None,
    spotify_refresh_token_stdin: Annotated[
        bool,
        typer.Option(
            "--spotify-refresh-token-stdin", help="Read the Spotify refresh token from stdin."
        ),
    ] = False,
    youtube_refresh_token_stdin: Annotated[
        bool,
        typer.Option(
            "--youtube-refresh-token-stdin",
            help="Read the Google/YouTube refresh token from stdin.",
        ),
    ] = False,
) -> None:
    """Add a user (idempotent); optional tokens connect their accounts."""
    tokens = _read_tokens(
        {
            "spotify": (
                spotify_refresh_token,
                spotify_refresh_token_file,
                spotify_refresh_token_stdin,
            ),
            "youtube": (
                youtube_refresh_token,
                youtube_refresh_token_file,
                youtube_refresh_token_stdin,
            ),
        }
    )
    with store_for(ctx) as (_, store):
        store.add_user(user_id)
        for provider, token in tokens.items():
            store.set_refresh_token(user_id, provider, token)
        user = store.get_user(user_id)
    assert user is not None
    status = ", ".join(f"{p}: {_status(user, p)}" for p in PROVIDERS)
    out.print(f"user {user.user_id} added ({status})", markup=False)


@group.command("list")
def list_users(
    ctx: typer.Context,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List users with each provider's status (never a token)."""
    with store_for(ctx) as (_, store):
        users = store.list_users()
    if json_:
        print_json([u.to_dict() for u in users])
        return
    if not users:
        out.print("no users yet: add one with `trackline users add ID`", markup=False)
        return
    from rich.table import Table

    others = sorted({p for u in users for p in u.providers} - set(PROVIDERS))
    table = Table("user", "active", "last active (UTC)", "created (UTC)", *PROVIDERS, *others)
    for u in users:
        table.add_row(
            u.user_id,
            "yes" if u.is_active else "no",
            when(u.last_active),
            when(u.created_at),
            *[_status(u, p) for p in (*PROVIDERS, *others)],
        )
    out.print(table)


@group.command("remove")
def remove(
    ctx: typer.Context,
    user_id: Annotated[str, typer.Argument(help="The user to remove, with their tokens.")],
) -> None:
    """Remove a user and their stored tokens."""
    from trackline.state.errors import UnknownUserError

    with store_for(ctx) as (_, store):
        if not store.remove_user(user_id):
            raise UnknownUserError(f"no user {user_id!r}; see `trackline users list`")
    out.print(f"user {user_id} removed", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="users")
