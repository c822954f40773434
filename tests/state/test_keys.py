"""Tokens bound to their user and provider, key rotation, and the files' modes."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from tests.state.conftest import Backend
from trackline.config import Settings
from trackline.state import SecretKeyError, StateStore, open_state
from trackline.state.crypto import KEY_FILE, cipher_from_settings, rewrapper

ALICE_TOKEN = "AQ-alice-refresh-token-1111"
BOB_TOKEN = "AQ-bob-refresh-token-2222"


def _two_users(store: StateStore) -> None:
    for user_id, token in (("alice", ALICE_TOKEN), ("bob", BOB_TOKEN)):
        store.add_user(user_id)
        store.set_refresh_token(user_id, "spotify", token)


def test_swapped_token_rows_are_detected(backend: Backend, store: StateStore) -> None:
    _two_users(store)
    store.set_refresh_token("alice", "youtube", "AQ-alice-youtube")
    alice, bob = backend.ciphertext("alice", "spotify"), backend.ciphertext("bob", "spotify")
    backend.set_ciphertext("alice", "spotify", bob)
    backend.set_ciphertext("bob", "spotify", alice)
    for user_id in ("alice", "bob"):
        with pytest.raises(SecretKeyError, match="another user or provider") as exc:
            store.get_refresh_token(user_id, "spotify")
        assert ALICE_TOKEN not in str(exc.value) and BOB_TOKEN not in str(exc.value)
    # a token moved to another provider of the same user is refused too
    youtube = backend.ciphertext("alice", "youtube")
    backend.set_ciphertext("bob", "spotify", youtube)
    with pytest.raises(SecretKeyError, match="another user or provider"):
        store.get_refresh_token("bob", "spotify")
    assert store.get_refresh_token("alice", "youtube") == "AQ-alice-youtube"


def test_old_unbound_tokens_are_read_then_bound_by_rotation(
    backend: Backend, store: StateStore
) -> None:
    store.add_user("alice")
    store.set_refresh_token("alice", "spotify", "placeholder")
    legacy = cipher_from_settings(backend.settings).encrypt(ALICE_TOKEN)  # as before binding
    backend.set_ciphertext("alice", "spotify", legacy)
    assert store.get_refresh_token("alice", "spotify") == ALICE_TOKEN

    new_key = Fernet.generate_key()
    assert store.rewrap_tokens(rewrapper(cipher_from_settings(backend.settings), new_key)) == 1  # type: ignore[attr-defined]
    plain = Fernet(new_key).decrypt(backend.ciphertext("alice", "spotify").encode()).decode()
    assert '"user_id": "alice"' in plain and '"provider": "spotify"' in plain


def test_rotation_moves_every_token_to_the_new_key(backend: Backend, store: StateStore) -> None:
    _two_users(store)
    store.mark_needs_reauth("bob", "spotify", "invalid_grant")
    old_key = backend.settings.secret_key
    assert old_key is not None
    new_key = Fernet.generate_key()
    rotated = store.rewrap_tokens(rewrapper(cipher_from_settings(backend.settings), new_key))  # type: ignore[attr-defined]
    assert rotated == 2
    for user_id in ("alice", "bob"):
        with pytest.raises(InvalidToken):  # the old key opens nothing any more
            Fernet(old_key.get_secret_value().encode()).decrypt(
                backend.ciphertext(user_id, "spotify").encode()
            )
    fresh = backend.open(secret_key=SecretStr(new_key.decode()))
    assert fresh.get_refresh_token("alice", "spotify") == ALICE_TOKEN
    assert fresh.get_refresh_token("bob", "spotify") == BOB_TOKEN
    bob = fresh.get_user("bob")
    assert bob is not None and bob.providers["spotify"] == "needs_reauth"  # status kept


def test_rotation_is_all_or_nothing(backend: Backend, store: StateStore) -> None:
    _two_users(store)
    before = {u: backend.ciphertext(u, "spotify") for u in ("alice", "bob")}
    backend.set_ciphertext("bob", "spotify", before["alice"])
    with pytest.raises(SecretKeyError):
        store.rewrap_tokens(
            rewrapper(cipher_from_settings(backend.settings), Fernet.generate_key())
        )  # type: ignore[attr-defined]
    assert backend.ciphertext("alice", "spotify") == before["alice"]  # rolled back


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("umask_022")
def test_home_is_0700_and_state_database_0600(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "home", secret_key=None)
    store = open_state(settings)
    store.add_user("alice")
    store.set_refresh_token("alice", "spotify", ALICE_TOKEN)
    try:
        home = tmp_path / "home"
        assert _mode(home) == 0o700
        assert _mode(home / "state.db") == 0o600
        for extra in home.glob("state.db-*"):  # SQLite's -wal and -shm take the file's mode
            assert _mode(extra) == 0o600, extra.name
        assert _mode(home / KEY_FILE) == 0o600
    finally:
        store.close()
    other = Settings.load(home=tmp_path / "other")
    other.ensure_home()
    assert _mode(tmp_path / "other") == 0o700


def test_a_key_from_the_environment_writes_no_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKLINE_SECRET_KEY", Fernet.generate_key().decode())
    store = open_state(Settings.load(home=tmp_path / "home"))
    try:
        store.add_user("alice")
        store.set_refresh_token("alice", "spotify", ALICE_TOKEN)
        assert store.get_refresh_token("alice", "spotify") == ALICE_TOKEN
    finally:
        store.close()
    assert not list((tmp_path / "home").rglob("*.key"))
