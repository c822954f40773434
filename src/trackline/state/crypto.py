"""Refresh tokens encrypted at rest with Fernet; the key never leaves memory or its 0600 file.

The key comes from `Settings.secret_key` (env TRACKLINE_SECRET_KEY), else from
`<home>/secret.key`, created on first use with mode 0600. Several comma-separated keys rotate:
the first encrypts, any of them decrypts (cryptography's MultiFernet).
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from trackline.config import Settings
from trackline.state.errors import SecretKeyError

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
            self._fernet = MultiFernet([Fernet(k) for k in keys])
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
                f"--spotify-refresh-token ...`) or re-authorise the user"
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
        path.parent.mkdir(parents=True, exist_ok=True)
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
