"""Firestore beyond the contract suite (which runs on the emulator, see conftest): URI, document
ids, document shapes, the missing extra, and a server that does not answer.
"""

from __future__ import annotations

import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trackline.config import Settings
from trackline.state import (
    ExtraNotInstalledError,
    Session,
    SessionUser,
    StateError,
    StateURIError,
    StatusChange,
    User,
    open_state,
)
from trackline.state.firestore_map import (
    doc_id,
    key_from_doc_id,
    parse_uri,
    session_from_doc,
    session_to_doc,
    user_from_doc,
    user_to_doc,
)

T = datetime(2025, 3, 1, 12, tzinfo=UTC)


def test_uri() -> None:
    t = parse_uri("firestore://my-project")
    assert (t.project, t.database, t.prefix) == ("my-project", "(default)", "trackline_")
    t = parse_uri("firestore://my-project/events-db?prefix=dev_")
    assert (t.database, t.collection("users")) == ("events-db", "dev_users")
    for bad in ("firestore://", "firestore://UPPER", "firestore://my-project/x", "fs://p-roject"):
        with pytest.raises(StateURIError):
            parse_uri(bad)


@pytest.mark.parametrize("key", ["carts/7", ".", "..", "__name__", "a b%c", "spotify:x:u"])
def test_doc_ids_are_legal_and_reversible(key: str) -> None:
    value = doc_id(key)
    assert "/" not in value and value not in (".", "..")
    assert not (value.startswith("__") and value.endswith("__"))
    assert key_from_doc_id(value) == key


def test_user_mapping_round_trip_hides_ciphertext() -> None:
    user = User("alice", True, T, T)
    tokens = {
        "spotify": {"ciphertext": "gAAAA...", "status": "connected", "reason": None},
        "youtube": {"ciphertext": None, "status": "needs_reauth", "reason": "invalid_grant"},
    }
    back = user_from_doc(user_to_doc(user, tokens))
    assert back == User(
        "alice",
        True,
        T,
        T,
        providers={"spotify": "connected", "youtube": "needs_reauth"},
        reauth_reasons={"youtube": "invalid_grant"},
    )


def test_session_mapping_round_trip() -> None:
    session = Session(
        session_id="abc",
        status="error",
        users=(SessionUser("alice", True, T), SessionUser("bob", False, None)),
        created_at=T,
        updated_at=T,
        error="no active users",
        run_ids=("r1",),
        outcomes={"alice": {"rows": 2}},
        timeline=(StatusChange("pending", T, "created"), StatusChange("error", T, "x", "w1")),
        worker_id="w1",
        attempts=1,
    )
    doc = session_to_doc(session)
    assert doc["user_ids"] == ["alice", "bob"]
    members = {"alice": (True, T), "bob": (False, None)}
    assert session_from_doc(doc, members) == session
    # a member removed since: shown inactive, not dropped
    assert session_from_doc(doc, {"alice": (True, T)}).users[1] == SessionUser("bob", False, None)


def test_missing_extra_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.cloud.firestore", None)
    settings = Settings.load(home=tmp_path, state_uri="firestore://my-project")
    with pytest.raises(ExtraNotInstalledError, match=r"trackline\[gcp\]"):
        open_state(settings)


def test_unanswered_server_is_one_clear_error_in_bounded_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{port}")
    settings = Settings.load(
        home=tmp_path, state_uri="firestore://dead-project", state_retry_seconds=1.0
    )
    started = time.monotonic()
    with pytest.raises(StateError, match="did not answer") as exc:
        open_state(settings)
    assert time.monotonic() - started < 15  # the client's own retries would take minutes
    assert "FIRESTORE_EMULATOR_HOST" in str(exc.value) and "\n" not in str(exc.value)
