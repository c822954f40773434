"""Firestore state store (`firestore://PROJECT[/DATABASE]`), on the official client.

Needs the `gcp` extra. Claims and finishes run in Firestore transactions (read the session,
check the same rules as every backend, write), so racing workers cannot both win. Firestore is
schemaless: "migrations" are a version number in `<prefix>meta/schema`, checked on open.
Not exercised against a server in this repository's tests (there is no local Firestore); the
mapping in `firestore_map` is.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from trackline.config import Settings
from trackline.errors import UsageError
from trackline.state.base import (
    SESSION_STATUSES,
    Session,
    StatusChange,
    User,
    check_collection,
    check_finish,
    check_key,
    check_lease,
    check_provider,
    check_user_id,
    claimable,
    require_extra,
    utcnow,
)
from trackline.state.crypto import LazyCipher, seal, unseal
from trackline.state.errors import (
    SessionTransitionError,
    StateError,
    UnknownSessionError,
    UnknownUserError,
)
from trackline.state.firestore_map import (
    FirestoreTarget,
    doc_id,
    key_from_doc_id,
    parse_uri,
    session_from_doc,
    session_to_doc,
    user_from_doc,
    user_to_doc,
)
from trackline.state.schema import check_version
from trackline.state.sql import Cipher

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


class FirestoreStore:
    scheme = "firestore"

    def __init__(self, target: FirestoreTarget, cipher: Cipher) -> None:
        self.fs = require_extra("google.cloud.firestore", "gcp")
        self.target = target
        self.cipher = cipher
        self.clock: Callable[[], datetime] = utcnow
        try:
            self.client = self.fs.Client(project=target.project, database=target.database)
        except Exception as exc:  # the client raises auth/config errors of many types
            raise StateError(
                f"cannot open Firestore project {target.project!r}: {exc}; check "
                "GOOGLE_APPLICATION_CREDENTIALS or `gcloud auth application-default login`"
            ) from None
        self._check_schema()

    # helpers -------------------------------------------------------------------------------
    def _col(self, name: str) -> Any:
        return self.client.collection(self.target.collection(name))

    def _now(self) -> datetime:
        return self.clock()

    def _check_schema(self) -> None:
        ref = self._col("meta").document("schema")
        snap = ref.get()
        current = int((snap.to_dict() or {}).get("version", 0)) if snap.exists else 0
        check_version(current, SCHEMA_VERSION, f"firestore://{self.target.project}")
        if current < SCHEMA_VERSION:
            ref.set({"version": SCHEMA_VERSION, "applied_at": self._now()})

    def _in_tx(self, fn: Callable[[Any], Any]) -> Any:
        return self.fs.transactional(fn)(self.client.transaction())

    def _user_ref(self, user_id: str) -> Any:
        return self._col("users").document(doc_id(user_id))

    def _session_ref(self, session_id: str) -> Any:
        return self._col("sessions").document(doc_id(session_id))

    def _session_snap(self, tx: Any, session_id: str) -> dict[str, Any]:
        snap = self._session_ref(session_id).get(transaction=tx)
        if not snap.exists:
            raise UnknownSessionError(
                f"no session {session_id!r}; see `trackline sessions list` for the ids"
            )
        data: dict[str, Any] = snap.to_dict()
        return data

    def schema_version(self) -> int:
        snap = self._col("meta").document("schema").get()
        return int((snap.to_dict() or {}).get("version", 0)) if snap.exists else 0

    def close(self) -> None:
        self.client.close()

    # users and tokens ----------------------------------------------------------------------
    def add_user(self, user_id: str) -> User:
        check_user_id(user_id)
        ref = self._user_ref(user_id)

        def create(tx: Any) -> None:
            if not ref.get(transaction=tx).exists:
                user = User(user_id, True, None, self._now())
                tx.set(ref, user_to_doc(user))

        self._in_tx(create)
        user = self.get_user(user_id)
        assert user is not None
        return user

    def get_user(self, user_id: str) -> User | None:
        snap = self._user_ref(user_id).get()
        return user_from_doc(snap.to_dict()) if snap.exists else None

    def list_users(self, *, active_only: bool = False) -> list[User]:
        users = [user_from_doc(s.to_dict()) for s in self._col("users").stream()]
        users.sort(key=lambda u: u.user_id)
        return [u for u in users if u.is_active or not active_only]

    def remove_user(self, user_id: str) -> bool:
        ref = self._user_ref(user_id)
        if not ref.get().exists:
            return False
        ref.delete()
        return True

    def _update_user(self, user_id: str, fields: dict[str, Any]) -> None:
        ref = self._user_ref(user_id)

        def update(tx: Any) -> None:
            if not ref.get(transaction=tx).exists:
                raise UnknownUserError(
                    f"no user {user_id!r}: add it with `trackline users add {user_id}`"
                )
            tx.update(ref, fields)

        self._in_tx(update)

    def set_active(self, user_id: str, active: bool) -> None:
        self._update_user(user_id, {"is_active": bool(active)})

    def touch_user(self, user_id: str, when: datetime | None = None) -> None:
        at = when or self._now()
        self._update_user(user_id, {"last_active": at if at.tzinfo else at.replace(tzinfo=UTC)})

    def set_refresh_token(self, user_id: str, provider: str, token: str) -> None:
        check_provider(provider)
        if not token:
            raise UsageError(f"an empty {provider} refresh token cannot be stored")
        entry = {
            "ciphertext": self.cipher.encrypt(seal(user_id, provider, token)),
            "status": "connected",
            "reason": None,
            "updated_at": self._now(),
        }
        self._update_user(user_id, {f"tokens.{provider}": entry})

    def get_refresh_token(self, user_id: str, provider: str) -> str | None:
        snap = self._user_ref(user_id).get()
        if not snap.exists:
            return None
        entry = ((snap.to_dict() or {}).get("tokens") or {}).get(provider) or {}
        ciphertext = entry.get("ciphertext")
        if not ciphertext:
            return None
        plain = self.cipher.decrypt(
            ciphertext, what=f"the {provider} refresh token of user {user_id!r}"
        )
        return unseal(plain, user_id, provider)[0]

    def mark_needs_reauth(self, user_id: str, provider: str, reason: str) -> None:
        check_provider(provider)
        self._update_user(
            user_id,
            {
                f"tokens.{provider}.status": "needs_reauth",
                f"tokens.{provider}.reason": reason,
                f"tokens.{provider}.updated_at": self._now(),
            },
        )

    # cursors and documents -----------------------------------------------------------------
    def get_cursor(self, key: str) -> str | None:
        snap = self._col("cursors").document(doc_id(key)).get()
        return str(snap.to_dict()["value"]) if snap.exists else None

    def set_cursor(self, key: str, value: str) -> None:
        check_key(key, "cursor key")
        self._col("cursors").document(doc_id(key)).set(
            {"key": key, "value": str(value), "updated_at": self._now()}
        )

    def _items(self, collection: str) -> Any:
        check_collection(collection)
        return self._col("docs").document(collection).collection("items")

    def get_doc(self, collection: str, key: str) -> dict[str, Any] | None:
        snap = self._items(collection).document(doc_id(key)).get()
        return dict(snap.to_dict()) if snap.exists else None

    def put_doc(self, collection: str, key: str, value: dict[str, Any]) -> None:
        check_key(key, "document key")
        if not isinstance(value, dict):
            raise UsageError(f"a document must be a JSON object, got {type(value).__name__}")
        self._items(collection).document(doc_id(key)).set(value)

    def delete_doc(self, collection: str, key: str) -> bool:
        ref = self._items(collection).document(doc_id(key))
        if not ref.get().exists:
            return False
        ref.delete()
        return True

    def list_docs(self, collection: str) -> dict[str, dict[str, Any]]:
        docs = {key_from_doc_id(s.id): dict(s.to_dict()) for s in self._items(collection).stream()}
        return dict(sorted(docs.items()))

    # sessions ------------------------------------------------------------------------------
    def _members(self, user_ids: Sequence[str]) -> dict[str, tuple[bool, datetime | None]]:
        refs = [self._user_ref(u) for u in dict.fromkeys(user_ids)]
        found = {}
        for snap in self.client.get_all(refs):
            if snap.exists:
                d = snap.to_dict()
                found[d["user_id"]] = (bool(d.get("is_active", True)), d.get("last_active"))
        return found

    def _session(self, data: dict[str, Any]) -> Session:
        return session_from_doc(data, self._members(data.get("user_ids", [])))

    def create_session(self, user_ids: Sequence[str]) -> Session:
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            raise UsageError("a session needs at least one user (--user ID)")
        missing = [u for u in ids if u not in self._members(ids)]
        if missing:
            raise UnknownUserError(
                f"unknown user(s) {', '.join(missing)}: add them first with "
                "`trackline users add ID`"
            )
        now = self._now()
        session = Session(
            session_id=uuid.uuid4().hex[:16],
            status="pending",
            users=(),
            created_at=now,
            updated_at=now,
            timeline=(StatusChange("pending", now, f"created with {len(ids)} user(s)"),),
        )
        data = session_to_doc(session) | {"user_ids": ids}
        self._session_ref(session.session_id).create(data)
        return self._session(data)

    def get_session(self, session_id: str) -> Session | None:
        snap = self._session_ref(session_id).get()
        return self._session(snap.to_dict()) if snap.exists else None

    def list_sessions(
        self, status: str | None = None, *, limit: int | None = None
    ) -> list[Session]:
        if status is not None and status not in SESSION_STATUSES:
            raise UsageError(
                f"unknown session status {status!r}: one of {', '.join(SESSION_STATUSES)}"
            )
        query = self._col("sessions")
        if status is not None:
            field_filter = require_extra("google.cloud.firestore_v1.base_query", "gcp")
            query = query.where(filter=field_filter.FieldFilter("status", "==", status))
        docs = [s.to_dict() for s in query.stream()]
        docs.sort(key=lambda d: (d["created_at"], d["session_id"]), reverse=True)
        return [self._session(d) for d in docs[:limit]]

    def _event(self, status: str, message: str | None, worker: str | None) -> Any:
        return self.fs.ArrayUnion(
            [{"status": status, "at": self._now(), "message": message, "worker_id": worker}]
        )

    def claim_session(self, session_id: str, worker_id: str, lease_seconds: float) -> bool:
        lease = check_lease(lease_seconds)
        ref = self._session_ref(session_id)

        def claim(tx: Any) -> bool:
            data = self._session_snap(tx, session_id)
            now = self._now()
            if not claimable(data["status"], data.get("lease_until"), now):
                return False
            was = data["status"]
            owner = data.get("worker_id")
            message = "claimed" if was == "pending" else f"reclaimed: the lease of {owner} expired"
            tx.update(
                ref,
                {
                    "status": "running",
                    "worker_id": worker_id,
                    "lease_until": now + timedelta(seconds=lease),
                    "attempts": int(data.get("attempts") or 0) + 1,
                    "updated_at": now,
                    "error": None,
                    "timeline": self._event("running", message, worker_id),
                },
            )
            return True

        return bool(self._in_tx(claim))

    def renew_lease(self, session_id: str, worker_id: str, lease_seconds: float) -> bool:
        lease = check_lease(lease_seconds)
        ref = self._session_ref(session_id)

        def renew(tx: Any) -> bool:
            data = self._session_snap(tx, session_id)
            if data["status"] != "running" or data.get("worker_id") != worker_id:
                return False
            now = self._now()
            tx.update(ref, {"lease_until": now + timedelta(seconds=lease), "updated_at": now})
            return True

        return bool(self._in_tx(renew))

    def finish_session(
        self, session_id: str, worker_id: str, status: str, error: str | None = None
    ) -> Session:
        ref = self._session_ref(session_id)

        def finish(tx: Any) -> None:
            data = self._session_snap(tx, session_id)
            check_finish(
                session_id, data["status"], data.get("worker_id"), worker_id, status, error
            )
            tx.update(
                ref,
                {
                    "status": status,
                    "error": error,
                    "lease_until": None,
                    "updated_at": self._now(),
                    "timeline": self._event(status, error, worker_id),
                },
            )

        self._in_tx(finish)
        found = self.get_session(session_id)
        assert found is not None
        return found

    def record_user_outcome(self, session_id: str, user_id: str, outcome: dict[str, Any]) -> None:
        ref = self._session_ref(session_id)

        def record(tx: Any) -> None:
            data = self._session_snap(tx, session_id)
            if data["status"] != "running":
                raise SessionTransitionError(
                    f"session {session_id} is {data['status']!r}: outcomes are recorded while it "
                    "runs"
                )
            if user_id not in data.get("user_ids", []):
                raise UnknownUserError(f"user {user_id!r} is not a member of session {session_id}")
            outcomes = dict(data.get("outcomes") or {})
            outcomes[user_id] = outcome
            tx.update(ref, {"outcomes": outcomes, "updated_at": self._now()})

        self._in_tx(record)

    def add_run_id(self, session_id: str, run_id: str) -> None:
        check_key(run_id, "run id")
        ref = self._session_ref(session_id)

        def add(tx: Any) -> None:
            self._session_snap(tx, session_id)
            tx.update(ref, {"run_ids": self.fs.ArrayUnion([run_id])})

        self._in_tx(add)

    def session_timeline(self, session_id: str) -> list[StatusChange]:
        found = self.get_session(session_id)
        if found is None:
            raise UnknownSessionError(
                f"no session {session_id!r}; see `trackline sessions list` for the ids"
            )
        return list(found.timeline)


def open_store(uri: str, settings: Settings) -> FirestoreStore:
    return FirestoreStore(parse_uri(uri), LazyCipher(settings))
