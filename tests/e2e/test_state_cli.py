"""`trackline users`, `sessions` and `groups` as a user runs them."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from tests.e2e.conftest import CLI, Result
from trackline.config import Settings
from trackline.state import SecretKeyError, open_state

TOKEN = "AQBx-e2e-refresh-token-do-not-print-4242"


def _files_under(home: Path) -> list[Path]:
    return [p for p in home.rglob("*") if p.is_file()]


def test_users_tokens_never_shown(cli: CLI, tmp_path: Path) -> None:
    outputs = []
    r = cli("--debug", "users", "add", "alice", "--spotify-refresh-token", TOKEN)
    assert r.code == 0, r.err
    assert "spotify: connected" in r.out and "youtube: -" in r.out
    outputs.append(r)
    r = cli("users", "add", "bob", "--youtube-refresh-token", TOKEN + "-yt")
    assert r.code == 0, r.err
    outputs.append(r)
    r = cli("users", "add", "alice", "--spotify-refresh-token", "")  # empty: refused, not echoed
    assert r.code == 2 and "empty spotify refresh token" in r.err
    outputs.append(r)

    r = cli("users", "list", "--json")
    assert r.code == 0, r.err
    outputs.append(r)
    users = {u["user_id"]: u for u in r.json()}
    assert users["alice"]["providers"] == {"spotify": "connected"}
    assert users["bob"]["providers"] == {"youtube": "connected"}
    assert users["alice"]["is_active"] is True
    r = cli("users", "list")
    assert r.code == 0 and "connected" in r.out
    outputs.append(r)

    for r in outputs:
        assert TOKEN not in r.out and TOKEN not in r.err
    home = tmp_path / "home"
    assert (home / "secret.key").exists()
    for f in _files_under(home):
        assert TOKEN.encode() not in f.read_bytes(), f.name

    r = cli("users", "remove", "bob")
    assert r.code == 0, r.err
    r = cli("users", "remove", "bob")
    assert r.code == 2 and "no user 'bob'" in r.err
    assert [u["user_id"] for u in cli("users", "list", "--json").json()] == ["alice"]


def test_sessions_and_groups(cli: CLI) -> None:
    assert cli("users", "add", "alice").code == 0
    assert cli("users", "add", "bob").code == 0

    r = cli("sessions", "create", "--user", "alice", "--user", "ghost")
    assert r.code == 2 and "ghost" in r.err and "users add" in r.err
    r = cli("sessions", "create")
    assert r.code == 2 and "--user" in r.err
    assert cli("sessions", "list", "--json").json() == []

    r = cli("sessions", "create", "--user", "alice", "--user", "bob", "--json")
    assert r.code == 0, r.err
    created = r.json()
    sid = created["session_id"]
    assert created["status"] == "pending"
    assert [u["user_id"] for u in created["users"]] == ["alice", "bob"]
    assert f"session.announce session_id={sid}" in r.err

    r = cli("groups", "create", "club", "--user", "alice", "--user", "bob")
    assert r.code == 0, r.err
    r = cli("groups", "create", "club", "--user", "alice")
    assert r.code == 2 and "exists already" in r.err
    r = cli("groups", "list", "--json")
    assert [(g["name"], g["user_ids"]) for g in r.json()] == [("club", ["alice", "bob"])]
    assert "club" in cli("groups", "list").out
    r = cli("sessions", "create", "--group", "club", "--json")
    assert r.code == 0, r.err
    second = r.json()["session_id"]

    r = cli("sessions", "list", "--json")
    assert {s["session_id"] for s in r.json()} == {sid, second}
    r = cli("sessions", "list", "--status", "running", "--json")
    assert r.json() == []
    r = cli("sessions", "show", sid, "--json")
    assert r.code == 0, r.err
    shown = r.json()
    assert shown["session_id"] == sid and shown["status"] == "pending"
    assert shown["run_ids"] == [] and shown["outcomes"] == {} and shown["error"] is None
    assert [c["status"] for c in shown["timeline"]] == ["pending"]
    assert shown["created_at"] and shown["updated_at"]
    r = cli("sessions", "show", sid)
    assert r.code == 0, r.err
    assert f"session {sid}: pending" in r.out and "timeline:" in r.out and "alice" in r.out
    r = cli("sessions", "show", "nope")
    assert r.code == 2 and "sessions list" in r.err


def test_show_a_finished_session(cli: CLI, tmp_path: Path) -> None:
    from trackline.config import Settings
    from trackline.state import open_state

    assert cli("users", "add", "alice").code == 0
    sid = cli("sessions", "create", "--user", "alice", "--json").json()["session_id"]
    store = open_state(Settings.load(home=tmp_path / "home"))  # what a worker does
    assert store.claim_session(sid, "worker-1", 60)
    store.record_user_outcome(sid, "alice", {"status": "failed", "reason": "token revoked"})
    store.add_run_id(sid, "run-123")
    store.finish_session(sid, "worker-1", "error", "no user could be fetched")
    store.close()

    shown = cli("sessions", "show", sid, "--json").json()
    assert shown["status"] == "error" and shown["error"] == "no user could be fetched"
    assert shown["outcomes"] == {"alice": {"status": "failed", "reason": "token revoked"}}
    assert shown["run_ids"] == ["run-123"]
    assert [c["status"] for c in shown["timeline"]] == ["pending", "running", "error"]
    r = cli("sessions", "show", sid)
    assert r.code == 0, r.err
    for text in ("error: no user could be fetched", "token revoked", "run-123", "[worker-1]"):
        assert text in r.out
    r = cli("sessions", "list")
    assert "error" in r.out and sid in r.out


def _run_with_stdin(tmp_path: Path, stdin: str, *args: str, **env_extra: str) -> Result:
    """The CLI fixture closes stdin; this runs one command with `stdin` piped in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLINE_")}
    env["TRACKLINE_HOME"] = str(tmp_path / "home")
    proc = subprocess.run(
        [sys.executable, "-m", "trackline", *args],
        cwd=tmp_path,
        env={**env, **env_extra},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def _stored_token(home: Path, user_id: str, provider: str, **settings: Any) -> str | None:
    store = open_state(Settings.load(home=home, **settings))
    try:
        return store.get_refresh_token(user_id, provider)
    finally:
        store.close()


def test_users_add_reads_tokens_from_stdin_or_a_file(cli: CLI, tmp_path: Path) -> None:
    home = tmp_path / "home"
    r = _run_with_stdin(
        tmp_path, TOKEN + "\n", "users", "add", "alice", "--spotify-refresh-token-stdin"
    )
    assert r.code == 0, r.err
    assert "spotify: connected" in r.out and "warning" not in r.err
    token_file = tmp_path / "yt.token"
    token_file.write_text(TOKEN + "-yt\n")
    r = cli("users", "add", "alice", "--youtube-refresh-token-file", str(token_file))
    assert r.code == 0 and "youtube: connected" in r.out and "warning" not in r.err, r.err
    assert _stored_token(home, "alice", "spotify", secret_key=None) == TOKEN
    assert _stored_token(home, "alice", "youtube", secret_key=None) == TOKEN + "-yt"

    # the old flag still works, and says why it should not be used
    r = cli("users", "add", "bob", "--spotify-refresh-token", TOKEN + "-bob")
    assert r.code == 0, r.err
    assert "ps" in r.err and "--spotify-refresh-token-stdin" in r.err
    assert TOKEN not in r.err

    for args in (
        ["--spotify-refresh-token-file", str(tmp_path / "missing")],
        ["--spotify-refresh-token-stdin", "--youtube-refresh-token-stdin"],
        ["--spotify-refresh-token-stdin", "--spotify-refresh-token-file", str(token_file)],
    ):
        r = cli("users", "add", "carol", *args)
        assert r.code == 2 and len(r.err.strip().splitlines()) == 1, (args, r.err)
    r = _run_with_stdin(tmp_path, "\n", "users", "add", "carol", "--spotify-refresh-token-stdin")
    assert r.code == 2 and "empty spotify refresh token" in r.err


def test_keys_rotate_with_the_key_file_in_the_home(cli: CLI, tmp_path: Path) -> None:
    home = tmp_path / "home"
    r = _run_with_stdin(tmp_path, TOKEN, "users", "add", "alice", "--spotify-refresh-token-stdin")
    assert r.code == 0, r.err
    old_key = (home / "secret.key").read_text()
    r = cli("keys", "rotate", "--json")
    assert r.code == 0, r.err
    assert r.json() == {"rotated": 1, "key_source": "file", "new_key_file": None}
    new_key = (home / "secret.key").read_text()
    assert new_key != old_key and "," not in new_key  # the old key is gone
    assert stat.S_IMODE((home / "secret.key").stat().st_mode) == 0o600
    assert _stored_token(home, "alice", "spotify", secret_key=None) == TOKEN
    for out in (r.out, r.err):
        assert new_key.strip() not in out and TOKEN not in out
    r = cli("keys", "rotate", "--new-key-file", str(tmp_path / "k"))
    assert r.code == 2 and "TRACKLINE_SECRET_KEY" in r.err


def test_keys_rotate_with_the_key_in_the_environment(cli: CLI, tmp_path: Path) -> None:
    home = tmp_path / "home"
    old_key = Fernet.generate_key().decode()
    env = {"TRACKLINE_SECRET_KEY": old_key}
    r = _run_with_stdin(
        tmp_path, TOKEN, "users", "add", "alice", "--spotify-refresh-token-stdin", **env
    )
    assert r.code == 0, r.err
    assert not (home / "secret.key").exists()  # the key lives apart from the data

    r = cli("keys", "rotate", extra_env=env)
    assert r.code == 2 and "--new-key-file" in r.err  # never printed: it needs a file
    r = cli("keys", "rotate", "--new-key-file", str(home / "new.key"), extra_env=env)
    assert r.code == 2 and "outside the home" in r.err
    assert _stored_token(home, "alice", "spotify", secret_key=SecretStr(old_key)) == TOKEN

    key_file = tmp_path / "new.key"
    r = cli("keys", "rotate", "--new-key-file", str(key_file), extra_env=env)
    assert r.code == 0, r.err
    assert "rotated 1" in r.out and "TRACKLINE_SECRET_KEY" in r.err
    new_key = key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert new_key not in r.out and new_key not in r.err and old_key not in r.err
    assert _stored_token(home, "alice", "spotify", secret_key=SecretStr(new_key)) == TOKEN
    with pytest.raises(SecretKeyError):
        _stored_token(home, "alice", "spotify", secret_key=SecretStr(old_key))
    r = cli("keys", "rotate", "--new-key-file", str(key_file), extra_env=env)
    assert r.code == 2 and "exists" in r.err  # never overwrites a key
