"""The state commands and the worker on `firestore://`, against the Firestore emulator: users with
tokens from a file, a session a worker runs to `done`, key rotation; and a server that does not
answer is one line."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import CLI
from tests.services import require
from tests.state import firestore_raw
from trackline.fakeapi import FakeAPI, serve


@pytest.fixture
def firestore(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    host = require("firestore")
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", host)
    uri = f"firestore://e2e-{uuid.uuid4().hex[:12]}"
    yield {"FIRESTORE_EMULATOR_HOST": host, "TRACKLINE_STATE_URI": uri}
    firestore_raw.clear(uri)


def test_users_session_worker_and_rotation_on_firestore(
    cli: CLI, firestore: dict[str, str], tmp_path: Path
) -> None:
    with serve(FakeAPI.create()) as fake:
        env = {**fake.env(), **firestore}
        token_file = tmp_path / "token.txt"
        token = fake.spotify_auth.issue_refresh_token("ana")
        token_file.write_text(token)
        added = cli(
            "users", "add", "ana", "--spotify-refresh-token-file", str(token_file), extra_env=env
        )
        assert added.code == 0, added.err
        users = cli("users", "list", "--json", extra_env=env)
        assert users.code == 0, users.err
        assert [(u["user_id"], u["providers"]) for u in users.json()] == [
            ("ana", {"spotify": "connected"})
        ]
        stored = firestore_raw.tokens(firestore["TRACKLINE_STATE_URI"])
        assert len(stored) == 1 and token not in str(stored)  # encrypted at rest

        rotated = cli("keys", "rotate", "--json", extra_env=env)
        assert rotated.code == 0 and rotated.json()["rotated"] == 1, rotated.err

        created = cli("sessions", "create", "--user", "ana", "--json", extra_env=env)
        assert created.code == 0, created.err
        sid = created.json()["session_id"]
        run = cli("worker", "--max-sessions", "1", "--idle-exit", "1", "--json", extra_env=env)
        assert run.code == 0, run.err
        assert run.json()["ran"] == 1  # the token read back under the rotated key
        shown = cli("sessions", "show", sid, "--json", extra_env=env)
        assert shown.code == 0, shown.err
        session = shown.json()
        assert session["status"] == "done", session
        assert session["outcomes"]["ana"]["status"] == "ok"
        assert [c["status"] for c in session["timeline"]] == ["pending", "running", "done"]


def test_an_unanswered_firestore_is_one_line(cli: CLI) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{port}",
        "TRACKLINE_STATE_URI": "firestore://dead-project",
        "TRACKLINE_STATE_RETRY_SECONDS": "1",
    }
    result = cli("sessions", "list", "--json", extra_env=env)
    assert result.code == 1
    assert "did not answer" in result.err and "Traceback" not in result.err
    assert result.json()["exit_code"] == 1
