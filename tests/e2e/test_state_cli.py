"""`trackline users`, `sessions` and `groups` as a user runs them."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import CLI

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
