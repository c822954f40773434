"""Sessions in the Firestore state store: create, claim, renew, finish, record outcomes.

Claims, renewals, finishes and outcomes are compare-and-sets on the session document
(`FirestoreBase._swap`): read it, check the same rules as every backend (`state.base`), write
only if it is still the version read, else decide again; so two racing workers never both win.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from trackline.errors import UsageError
from trackline.state.base import (
    SESSION_STATUSES,
    Session,
    StatusChange,
    check_finish,
    check_key,
    check_lease,
    claimable,
    require_extra,
)
from trackline.state.errors import SessionTransitionError, UnknownSessionError, UnknownUserError
from trackline.state.firestore_base import CALL_TIMEOUT, FirestoreBase
from trackline.state.firestore_map import session_from_doc, session_to_doc


def _unknown(session_id: str) -> UnknownSessionError:
    return UnknownSessionError(
        f"no session {session_id!r}; see `trackline sessions list` for the ids"
    )


class FirestoreSessions(FirestoreBase):
    """The session half of the Firestore store."""

    def _found(self, session_id: str, data: dict[str, Any] | None) -> dict[str, Any]:
        if data is None:
            raise _unknown(session_id)
        return data

    def _members(self, user_ids: Sequence[str]) -> dict[str, tuple[bool, datetime | None]]:
        refs = [self._user_ref(u) for u in dict.fromkeys(user_ids)]
        if not refs:
            return {}
        snaps = self._call(lambda: list(self.client.get_all(refs, timeout=CALL_TIMEOUT)))
        found = {}
        for snap in snaps:
            if snap.exists:
                d = snap.to_dict()
                found[d["user_id"]] = (bool(d.get("is_active", True)), d.get("last_active"))
        return found

    def _session(self, data: dict[str, Any]) -> Session:
        return session_from_doc(data, self._members(data.get("user_ids", [])))

    def _event(self, status: str, message: str | None, worker: str | None) -> Any:
        return self.fs.ArrayUnion(
            [{"status": status, "at": self._now(), "message": message, "worker_id": worker}]
        )

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
        ref = self._session_ref(session.session_id)
        self._call(lambda: ref.create(data, timeout=CALL_TIMEOUT, retry=None))
        return self._session(data)

    def get_session(self, session_id: str) -> Session | None:
        snap = self._get(self._session_ref(session_id))
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
        # sorted here, not by the query: a filter plus an order would need a composite index
        docs = [s.to_dict() for s in self._stream(query)]
        docs.sort(key=lambda d: (d["created_at"], d["session_id"]), reverse=True)
        return [self._session(d) for d in docs[:limit]]

    def claim_session(self, session_id: str, worker_id: str, lease_seconds: float) -> bool:
        lease = check_lease(lease_seconds)

        def claim(found: dict[str, Any] | None) -> dict[str, Any] | None:
            data = self._found(session_id, found)
            now = self._now()
            if not claimable(data["status"], data.get("lease_until"), now):
                return None
            owner = data.get("worker_id")
            message = (
                "claimed"
                if data["status"] == "pending"
                else f"reclaimed: the lease of {owner} expired"
            )
            return {
                "status": "running",
                "worker_id": worker_id,
                "lease_until": now + timedelta(seconds=lease),
                "attempts": int(data.get("attempts") or 0) + 1,
                "updated_at": now,
                "error": None,
                "timeline": self._event("running", message, worker_id),
            }

        return self._swap(self._session_ref(session_id), claim)

    def renew_lease(self, session_id: str, worker_id: str, lease_seconds: float) -> bool:
        lease = check_lease(lease_seconds)

        def renew(found: dict[str, Any] | None) -> dict[str, Any] | None:
            data = self._found(session_id, found)
            if data["status"] != "running" or data.get("worker_id") != worker_id:
                return None
            now = self._now()
            return {"lease_until": now + timedelta(seconds=lease), "updated_at": now}

        return self._swap(self._session_ref(session_id), renew)

    def finish_session(
        self, session_id: str, worker_id: str, status: str, error: str | None = None
    ) -> Session:
        def finish(found: dict[str, Any] | None) -> dict[str, Any]:
            data = self._found(session_id, found)
            check_finish(
                session_id, data["status"], data.get("worker_id"), worker_id, status, error
            )
            return {
                "status": status,
                "error": error,
                "lease_until": None,
                "updated_at": self._now(),
                "timeline": self._event(status, error, worker_id),
            }

        self._swap(self._session_ref(session_id), finish)
        found = self.get_session(session_id)
        assert found is not None
        return found

    def record_user_outcome(self, session_id: str, user_id: str, outcome: dict[str, Any]) -> None:
        paths = require_extra("google.cloud.firestore_v1.field_path", "gcp")
        field = paths.FieldPath("outcomes", user_id).to_api_repr()  # quoted: any user id

        def record(found: dict[str, Any] | None) -> dict[str, Any]:
            data = self._found(session_id, found)
            if data["status"] != "running":
                raise SessionTransitionError(
                    f"session {session_id} is {data['status']!r}: outcomes are recorded while it "
                    "runs"
                )
            if user_id not in data.get("user_ids", []):
                raise UnknownUserError(f"user {user_id!r} is not a member of session {session_id}")
            return {field: outcome, "updated_at": self._now()}

        self._swap(self._session_ref(session_id), record)

    def add_run_id(self, session_id: str, run_id: str) -> None:
        check_key(run_id, "run id")

        def add(found: dict[str, Any] | None) -> dict[str, Any]:
            self._found(session_id, found)
            return {"run_ids": self.fs.ArrayUnion([run_id])}

        self._swap(self._session_ref(session_id), add)

    def session_timeline(self, session_id: str) -> list[StatusChange]:
        found = self.get_session(session_id)
        if found is None:
            raise _unknown(session_id)
        return list(found.timeline)
