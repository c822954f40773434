"""Token encryption: where the key comes from, and what a bad key does."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from trackline.config import Settings
from trackline.state import SecretKeyError, open_state
from trackline.state.crypto import KEY_FILE, cipher_from_settings, load_or_create_key


def test_key_file_created_0600_and_reused(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "home", secret_key=None)
    first = cipher_from_settings(settings)
    key_file = tmp_path / "home" / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    secret = first.encrypt("tok")
    assert "tok" not in secret
    assert cipher_from_settings(settings).decrypt(secret) == "tok"  # same key on the next run
    assert [p.name for p in key_file.parent.iterdir()] == [KEY_FILE]  # no temp files left


def test_key_file_race_keeps_one_key(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    key = load_or_create_key(path)
    assert load_or_create_key(path) == key


def test_env_key_wins_and_bad_key_is_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("TRACKLINE_SECRET_KEY", key)
    settings = Settings.load(home=tmp_path / "home")
    assert settings.secret_key is not None and key not in repr(settings)
    cipher = cipher_from_settings(settings)
    assert Fernet(key.encode()).decrypt(cipher.encrypt("tok").encode()) == b"tok"
    assert not (tmp_path / "home" / KEY_FILE).exists()
    monkeypatch.setenv("TRACKLINE_SECRET_KEY", "not-a-key-but-secret-material")
    with pytest.raises(SecretKeyError, match="not a valid Fernet key") as exc:
        cipher_from_settings(Settings.load(home=tmp_path / "home"))
    assert "secret-material" not in str(exc.value)


def test_commands_that_touch_no_token_create_no_key(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "home", secret_key=None)
    store = open_state(settings)
    store.add_user("alice")
    store.create_session(["alice"])
    assert not (tmp_path / "home" / KEY_FILE).exists()
    store.set_refresh_token("alice", "spotify", "tok")
    assert (tmp_path / "home" / KEY_FILE).exists()
    store.close()


def test_lost_key_file_gives_a_typed_error(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "home", secret_key=None)
    store = open_state(settings)
    store.add_user("alice")
    store.set_refresh_token("alice", "spotify", "tok-abc")
    store.close()
    os.remove(tmp_path / "home" / KEY_FILE)
    again = open_state(settings)
    with pytest.raises(SecretKeyError, match="stored with another key"):
        again.get_refresh_token("alice", "spotify")
    again.close()
