"""The StateStore contract, run against every backend (see conftest.BACKENDS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from tests.state.conftest import Backend
from trackline.errors import UsageError
from trackline.state import (
    InvalidNameError,
    SchemaVersionError,
    SecretKeyError,
    SessionTransitionError,
    StateStore,
    UnknownSessionError,
    UnknownUserError,
)

TOKEN = "AQD-refresh-token-0123456789-plaintext"


# users ----------------------------------------------------------------------------------------
def test_users_add_is_idempotent_and_listed(store: StateStore) -> None:
    first = store.add_user("bob")
    store.add_user("alice")
    again = store.add_user("bob")
    assert again.created_at == first.created_at and again.is_active
    assert [u.user_id for u in store.list_users()] == ["alice", "bob"]
    store.set_active("bob", False)
    assert [u.user_id for u in store.list_users(active_only=True)] == ["alice"]
    when = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    store.touch_user("alice", when)
    user = store.get_user("alice")
    assert user is not None and user.last_active == when
    assert store.get_user("nobody") is None


def test_unknown_user_is_a_typed_error(store: StateStore) -> None:
    for call in (
        lambda: store.set_active("ghost", True),
        lambda: store.touch_user("ghost"),
        lambda: store.set_refresh_token("ghost", "spotify", TOKEN),
        lambda: store.mark_needs_reauth("ghost", "spotify", "revoked"),
    ):
        with pytest.raises(UnknownUserError, match="users add ghost"):
            call()
    with pytest.raises(InvalidNameError):
        store.add_user("has space")


def test_remove_user_drops_tokens(backend: Backend, store: StateStore) -> None:
    store.add_user("alice")
    store.set_refresh_token("alice", "spotify", TOKEN)
    assert store.remove_user("alice") is True
    assert store.remove_user("alice") is False
    assert store.get_refresh_token("alice", "spotify") is None
    assert backend.tokens() == []


# tokens ---------------------------------------------------------------------------------------
def test_tokens_are_encrypted_at_rest(backend: Backend, store: StateStore) -> None:
    store.add_user("alice")
    store.set_refresh_token("alice", "spotify", TOKEN)
    assert store.get_refresh_token("alice", "spotify") == TOKEN
    rows = backend.tokens()
    assert len(rows) == 1 and rows[0][:2] == ("alice", "spotify")
    ciphertext = rows[0][2]
    assert ciphertext is not None and TOKEN not in ciphertext
    assert ciphertext.startswith("gAAAAA")  # a Fernet token
    if backend.name == "sqlite":
        blob = b"".join(
            p.read_bytes() for p in backend.settings.home.parent.glob("state.db*") if p.is_file()
        )
        assert TOKEN.encode() not in blob


def test_rotation_overwrites_and_reauth_clears(backend: Backend, store: StateStore) -> None:
    store.add_user("alice")
    store.set_refresh_token("alice", "spotify", TOKEN)
    before = backend.tokens()
    store.mark_needs_reauth("alice", "spotify", "invalid_grant: token revoked")
    user = store.get_user("alice")
    assert user is not None and user.providers == {"spotify": "needs_reauth"}
    assert user.reauth_reasons == {"spotify": "invalid_grant: token revoked"}
    store.set_refresh_token("alice", "spotify", TOKEN + "-rotated")
    assert store.get_refresh_token("alice", "spotify") == TOKEN + "-rotated"
    after = backend.tokens()
    assert len(after) == 1 and after != before
    user = store.get_user("alice")
    assert user is not None and user.providers == {"spotify": "connected"}
    assert user.reauth_reasons == {}
    assert store.get_refresh_token("alice", "youtube") is None


def test_wrong_key_is_a_typed_error_without_the_token(backend: Backend) -> None:
    store = backend.open()
    store.add_user("alice")
    store.set_refresh_token("alice", "spotify", TOKEN)
    other = backend.open(secret_key=SecretStr(Fernet.generate_key().decode()))
    with pytest.raises(SecretKeyError, match="TRACKLINE_SECRET_KEY") as exc:
        other.get_refresh_token("alice", "spotify")
    assert TOKEN not in str(exc.value)
    # rotation: new key first, old key still decrypts
    old = backend.settings.secret_key
    assert old is not None
    rotated = backend.open(
        secret_key=SecretStr(Fernet.generate_key().decode() + "," + old.get_secret_value())
    )
    assert rotated.get_refresh_token("alice", "spotify") == TOKEN


# cursors and documents ------------------------------------------------------------------------
def test_cursors_round_trip(store: StateStore) -> None:
    key = "spotify:recently_played:alice"
    assert store.get_cursor(key) is None
    store.set_cursor(key, "1700000000000")
    store.set_cursor(key, "1700000000999")
    assert store.get_cursor(key) == "1700000000999"


def test_docs_round_trip(store: StateStore) -> None:
    doc = {"rows": [1, 2.5, None], "name": "Sigur Rós ✓", "nested": {"ok": True}}
    store.put_doc("cdc", "carts/7", doc)
    store.put_doc("cdc", "carts/8", {"v": 1})
    store.put_doc("other", "carts/7", {"v": 2})
    assert store.get_doc("cdc", "carts/7") == doc
    store.put_doc("cdc", "carts/8", {"v": 3})
    assert store.list_docs("cdc") == {"carts/7": doc, "carts/8": {"v": 3}}
    assert store.delete_doc("cdc", "carts/7") is True
    assert store.delete_doc("cdc", "carts/7") is False
    assert store.get_doc("cdc", "carts/7") is None
    assert store.list_docs("other") == {"carts/7": {"v": 2}}
    with pytest.raises(InvalidNameError):
        store.put_doc("bad collection", "k", {})


# migrations -----------------------------------------------------------------------------------
# The schema versions each backend records: SQL as numbered migrations, Firestore (schemaless)
# as one version number.
APPLIED = {"sqlite": [1, 2], "postgres": [1, 2], "firestore": [1]}


def test_migrations_apply_once(backend: Backend, store: StateStore) -> None:
    store.add_user("alice")
    latest = APPLIED[backend.name][-1]
    assert store.schema_version() == latest
    reopened = backend.open()
    assert reopened.schema_version() == latest
    assert backend.schema_versions() == APPLIED[backend.name]
    assert [u.user_id for u in reopened.list_users()] == ["alice"]


def test_newer_schema_is_refused(backend: Backend, store: StateStore) -> None:
    store.close()
    backend.opened.remove(store)
    backend.record_schema_version(99)
    with pytest.raises(SchemaVersionError, match=r"version 99.*newer trackline"):
        backend.open()


# sessions -------------------------------------------------------------------------------------
def _users(store: StateStore, *ids: str) -> None:
    for uid in ids:
        store.add_user(uid)


def test_create_session_checks_users(backend: Backend, store: StateStore) -> None:
    _users(store, "alice")
    with pytest.raises(UnknownUserError, match="ghost"):
        store.create_session(["alice", "ghost"])
    with pytest.raises(UsageError):
        store.create_session([])
    assert store.list_sessions() == []
    assert backend.stored_sessions() == 0


def test_session_lifecycle(store: StateStore) -> None:
    _users(store, "alice", "bob")
    store.set_active("bob", False)
    s = store.create_session(["alice", "bob", "alice"])
    assert s.status == "pending" and s.user_ids == ["alice", "bob"]
    assert s.active_user_ids == ["alice"]
    assert [c.status for c in s.timeline] == ["pending"]
    assert store.get_session(s.session_id) == s

    with pytest.raises(SessionTransitionError):
        store.record_user_outcome(s.session_id, "alice", {"rows": 1})  # not running yet
    assert store.claim_session(s.session_id, "w1", 60) is True
    assert store.claim_session(s.session_id, "w2", 60) is False  # lease held
    assert store.claim_session(s.session_id, "w1", 60) is False  # redelivery to the same worker
    assert store.renew_lease(s.session_id, "w1", 60) is True
    assert store.renew_lease(s.session_id, "w2", 60) is False
    store.record_user_outcome(s.session_id, "alice", {"status": "ok", "rows": 42})
    store.record_user_outcome(s.session_id, "bob", {"status": "skipped", "reason": "inactive"})
    with pytest.raises(UnknownUserError):
        store.record_user_outcome(s.session_id, "carol", {})
    store.add_run_id(s.session_id, "run-b")
    store.add_run_id(s.session_id, "run-a")
    store.add_run_id(s.session_id, "run-b")
    with pytest.raises(SessionTransitionError, match="held by worker 'w1'"):
        store.finish_session(s.session_id, "w2", "done")
    with pytest.raises(SessionTransitionError, match="needs the reason"):
        store.finish_session(s.session_id, "w1", "error")
    with pytest.raises(SessionTransitionError):
        store.finish_session(s.session_id, "w1", "pending")

    done = store.finish_session(s.session_id, "w1", "done")
    assert done.status == "done" and done.error is None and done.lease_until is None
    assert done.run_ids == ("run-b", "run-a")
    assert done.outcomes == {
        "alice": {"status": "ok", "rows": 42},
        "bob": {"status": "skipped", "reason": "inactive"},
    }
    assert [(c.status, c.worker_id) for c in done.timeline] == [
        ("pending", None),
        ("running", "w1"),
        ("done", "w1"),
    ]
    assert done.timeline[0].at <= done.timeline[1].at <= done.timeline[2].at
    assert done.updated_at >= done.created_at
    assert store.claim_session(s.session_id, "w2", 60) is False  # done is final
    with pytest.raises(SessionTransitionError, match="'done'"):
        store.finish_session(s.session_id, "w1", "error", "late")


def test_error_status_and_listing(store: StateStore) -> None:
    _users(store, "alice")
    a = store.create_session(["alice"])
    b = store.create_session(["alice"])
    assert store.claim_session(a.session_id, "w1", 30)
    failed = store.finish_session(a.session_id, "w1", "error", "no active users")
    assert failed.error == "no active users" and failed.timeline[-1].message == "no active users"
    assert [s.session_id for s in store.list_sessions("error")] == [a.session_id]
    assert [s.session_id for s in store.list_sessions("pending")] == [b.session_id]
    assert {s.session_id for s in store.list_sessions()} == {a.session_id, b.session_id}
    assert len(store.list_sessions(limit=1)) == 1
    with pytest.raises(UsageError, match="unknown session status"):
        store.list_sessions("finished")
    with pytest.raises(UnknownSessionError):
        store.claim_session("nope", "w1", 30)
    assert store.get_session("nope") is None
    with pytest.raises(UnknownSessionError):
        store.session_timeline("nope")
    assert [c.status for c in store.session_timeline(a.session_id)] == [
        "pending",
        "running",
        "error",
    ]


def test_expired_lease_makes_a_session_claimable_again(backend: Backend) -> None:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    crashed, rescuer = backend.open(), backend.open()
    crashed.clock = lambda: t0
    _users(crashed, "alice")
    s = crashed.create_session(["alice"])
    assert crashed.claim_session(s.session_id, "w1", 60)
    rescuer.clock = lambda: t0 + timedelta(seconds=30)
    assert rescuer.claim_session(s.session_id, "w2", 60) is False
    rescuer.clock = lambda: t0 + timedelta(seconds=61)
    assert rescuer.claim_session(s.session_id, "w2", 60) is True
    # the crashed worker comes back: it no longer holds the session
    crashed.clock = rescuer.clock
    assert crashed.renew_lease(s.session_id, "w1", 60) is False
    with pytest.raises(SessionTransitionError, match="another worker took it over"):
        crashed.finish_session(s.session_id, "w1", "done")
    done = rescuer.finish_session(s.session_id, "w2", "done")
    assert done.attempts == 2
    assert "lease of w1 expired" in (done.timeline[2].message or "")
