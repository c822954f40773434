"""Refresh tokens encrypted at rest with Fernet; the key never leaves memory or its 0600 file.

The key comes from `Settings.secret_key` (env TRACKLINE_SECRET_KEY), else from
`<home>/secret.key`, created on first use with mode 0600. Several comma-separated keys rotate:
the first encrypts, any of them decrypts (cryptography's MultiFernet).
"""

from __future__ import annotations

import json
import logging
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from trackline.config import Settings
from trackline.state.errors import SecretKeyError, TokenBindingError

log = logging.getLogger(__name__)

KEY_FILE = "secret.key"
_GENERATE = (
    'generate one with `python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"`'
)


class TokenCipher:
    """Encrypts and decrypts token strings. Built from key material; loads nothing itself."""

    def __init__(self, keys: list[bytes], source: str) -> None:
        if not keys:
            raise SecretKeyError(f"no secret key in {source}; {_GENERATE}")
        try:
            self.fernets = [Fernet(k) for k in keys]
            self._fernet = MultiFernet(self.fernets)
        except (ValueError, TypeError):
            # The message must not echo the key material.
            raise SecretKeyError(
                f"the secret key in {source} is not a valid Fernet key (32 url-safe base64 "
                f"bytes); {_GENERATE}"
            ) from None
        self.source = source

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, ciphertext: str, *, what: str = "a token") -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode()
        except (InvalidToken, ValueError, UnicodeError):
            raise SecretKeyError(
                f"{what} cannot be decrypted with the key from {self.source}: it was stored "
                f"with another key. Set TRACKLINE_SECRET_KEY (or restore {KEY_FILE} in the "
                f"home) to that key, or store the token again (`trackline users add ID "
                f"--spotify-refresh-token-stdin`) or re-authorise the user"
            ) from None


class LazyCipher:
    """Resolves the key on first use, so commands that touch no token create no key file."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._cipher: TokenCipher | None = None

    def get(self) -> TokenCipher:
        if self._cipher is None:
            self._cipher = cipher_from_settings(self._settings)
        return self._cipher

    def encrypt(self, plaintext: str) -> str:
        return self.get().encrypt(plaintext)

    def decrypt(self, ciphertext: str, *, what: str = "a token") -> str:
        return self.get().decrypt(ciphertext, what=what)


def _split(material: str) -> list[bytes]:
    return [k.strip().encode("ascii", "replace") for k in material.split(",") if k.strip()]


def cipher_from_settings(settings: Settings) -> TokenCipher:
    """The cipher from TRACKLINE_SECRET_KEY, else from (a newly created) `<home>/secret.key`."""
    if settings.secret_key is not None:
        return TokenCipher(_split(settings.secret_key.get_secret_value()), "TRACKLINE_SECRET_KEY")
    path = settings.home / KEY_FILE
    return TokenCipher(_split(load_or_create_key(path)), f"the key file {KEY_FILE} in the home")


def load_or_create_key(path: Path) -> str:
    """Read the key file, or create it with mode 0600. Safe when processes race to create it."""
    if not path.exists():
        if not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.parent.chmod(0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, Fernet.generate_key() + b"\n")
            os.fsync(fd)
            os.close(fd)
            try:
                os.link(tmp, path)  # atomic; fails if another process won the race
                log.info("secret_key.created file=%s mode=0600", path.name)
            except FileExistsError:
                pass
        finally:
            Path(tmp).unlink(missing_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning(
            "secret_key.permissions file=%s mode=%o hint='chmod 600 it: others can read it'",
            path.name,
            mode,
        )
    return path.read_text(encoding="ascii", errors="replace")


# Binding ---------------------------------------------------------------------------------------
# A token is encrypted inside a small envelope naming its user and provider, so a row copied or
# swapped to another user (by someone who can write the database but has no key) is refused.
_ENVELOPE = "trackline_token"


def seal(user_id: str, provider: str, token: str) -> str:
    """The plaintext to encrypt for `token`: an envelope bound to its user and provider."""
    return json.dumps({_ENVELOPE: 1, "user_id": user_id, "provider": provider, "token": token})


def unseal(plaintext: str, user_id: str, provider: str) -> tuple[str, bool]:
    """The token in `plaintext` and whether it was bound. Raises if bound to someone else;
    a token stored before binding existed is read as it is (`keys rotate` binds it)."""
    envelope: object = None
    if plaintext.startswith("{"):
        try:
            envelope = json.loads(plaintext)
        except ValueError:
            envelope = None
    if not (isinstance(envelope, dict) and _ENVELOPE in envelope):
        return plaintext, False
    if envelope.get("user_id") != user_id or envelope.get("provider") != provider:
        # Names neither the other user nor the token: only that the row is not this user's.
        raise TokenBindingError(
            f"the {provider} refresh token stored for user {user_id!r} was encrypted for "
            f"another user or provider: its row was copied or swapped in the state store. "
            f"Store the user's token again (`trackline users add {user_id} "
            f"--{provider}-refresh-token-stdin`) or re-authorise the user"
        )
    return str(envelope.get("token", "")), True


def rewrapper(old: TokenCipher, new_key: bytes) -> Callable[[str, str, str], str]:
    """A function re-encrypting one stored ciphertext under `new_key` (MultiFernet.rotate),
    checking its binding first and binding a token stored before binding existed."""
    new = Fernet(new_key)
    rotating = MultiFernet([new, *old.fernets])

    def rewrap(user_id: str, provider: str, ciphertext: str) -> str:
        what = f"the {provider} refresh token of user {user_id!r}"
        token, bound = unseal(old.decrypt(ciphertext, what=what), user_id, provider)
        if bound:
            return rotating.rotate(ciphertext.encode("ascii")).decode("ascii")
        return new.encrypt(seal(user_id, provider, token).encode()).decode("ascii")

    return rewrap


def write_key_file(path: Path, material: str, *, replace: bool) -> None:
    """Write key material to `path` with mode 0600, durably: replacing it atomically, or
    creating it only when it does not exist yet (never overwriting a key by accident)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, material.encode("ascii") + b"\n")
        os.fsync(fd)
        os.close(fd)
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if the file exists
    finally:
        Path(tmp).unlink(missing_ok=True)
