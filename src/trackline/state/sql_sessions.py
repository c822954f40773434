"""Sessions in the SQL state backends: create, claim, renew, finish, record outcomes.

Everything a worker could race on (claiming, finishing, renewing a lease) reads and writes the
session row inside one transaction that holds its lock, so two workers never both win.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from trackline.errors import UsageError
from trackline.state.base import (
    SESSION_STATUSES,
    Session,
    SessionUser,
    StatusChange,
    check_finish,
    check_key,
    check_lease,
    claimable,
)
from trackline.state.errors import SessionTransitionError, UnknownSessionError, UnknownUserError
from trackline.state.sql_base import SQLBase, Tx, marks

log = logging.getLogger(__name__)


class SQLSessions(SQLBase):
    """The session half of a SQL store."""

    def _event(
        self,
        tx: Tx,
        session_id: str,
        status: str,
        at: datetime,
        message: str | None,
        worker: str | None,
    ) -> None:
        row = tx.one("SELECT max(seq) FROM session_events WHERE session_id = ?", [session_id])
        seq = (int(row[0]) if row and row[0] is not None else 0) + 1
        tx.exec(
            "INSERT INTO session_events (session_id, seq, at, status, message, worker_id) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [session_id, seq, self._ts(at), status, message, worker],
        )

    def create_session(self, user_ids: Sequence[str]) -> Session:
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            raise UsageError("a session needs at least one user (--user ID)")
        session_id = uuid.uuid4().hex[:16]
        now = self._now()
        with self._tx() as tx:
            known = {
                r[0]
                for r in tx.all(
                    f"SELECT user_id FROM users WHERE user_id IN ({marks(len(ids))})", ids
                )
            }
            missing = [u for u in ids if u not in known]
            if missing:
                raise UnknownUserError(
                    f"unknown user(s) {', '.join(missing)}: add them first with "
                    "`trackline users add ID`"
                )
            tx.exec(
                "INSERT INTO sessions (session_id, status, created_at, updated_at, attempts) "
                "VALUES (?, 'pending', ?, ?, 0)",
                [session_id, self._ts(now), self._ts(now)],
            )
            for pos, uid in enumerate(ids):
                tx.exec(
                    "INSERT INTO session_users (session_id, user_id, pos) VALUES (?, ?, ?)",
                    [session_id, uid, pos],
                )
            self._event(tx, session_id, "pending", now, f"created with {len(ids)} user(s)", None)
            sessions = self._load(tx, [session_id])
        log.info("session.created session_id=%s users=%d", session_id, len(ids))
        return sessions[0]

    _SESSION_COLS = (
        "session_id, status, created_at, updated_at, error, worker_id, lease_until, attempts"
    )

    def _load(
        self, tx: Tx, ids: Sequence[str] | None, status: str | None = None, limit: int | None = None
    ) -> list[Session]:
        if ids is not None:
            if not ids:
                return []
            rows = tx.all(
                f"SELECT {self._SESSION_COLS} FROM sessions "
                f"WHERE session_id IN ({marks(len(ids))})",
                list(ids),
            )
        else:
            sql = f"SELECT {self._SESSION_COLS} FROM sessions"
            params: list[Any] = []
            if status is not None:
                sql += " WHERE status = ?"
                params.append(status)
            sql += " ORDER BY created_at DESC, session_id"
            if limit is not None:
                sql += " LIMIT ?"
                params.append(int(limit))
            rows = tx.all(sql, params)
        if not rows:
            return []
        found = [r[0] for r in rows]
        m = marks(len(found))
        members: dict[str, list[tuple[Any, ...]]] = {}
        for r in tx.all(
            "SELECT su.session_id, su.user_id, u.is_active, u.last_active, su.outcome "
            "FROM session_users su LEFT JOIN users u ON u.user_id = su.user_id "
            f"WHERE su.session_id IN ({m}) ORDER BY su.session_id, su.pos",
            found,
        ):
            members.setdefault(r[0], []).append(r)
        runs: dict[str, list[str]] = {}
        for r in tx.all(
            f"SELECT session_id, run_id FROM session_runs WHERE session_id IN ({m}) "
            "ORDER BY session_id, pos",
            found,
        ):
            runs.setdefault(r[0], []).append(r[1])
        events: dict[str, list[StatusChange]] = {}
        for r in tx.all(
            "SELECT session_id, status, at, message, worker_id FROM session_events "
            f"WHERE session_id IN ({m}) ORDER BY session_id, seq",
            found,
        ):
            events.setdefault(r[0], []).append(
                StatusChange(
                    status=r[1], at=self._dt(r[2]) or self._now(), message=r[3], worker_id=r[4]
                )
            )
        out = []
        for sid, st, created, updated, error, worker, lease, attempts in rows:
            mem = members.get(sid, [])
            out.append(
                Session(
                    session_id=sid,
                    status=st,
                    users=tuple(
                        SessionUser(user_id=r[1], is_active=bool(r[2]), last_active=self._dt(r[3]))
                        for r in mem
                    ),
                    created_at=self._dt(created) or self._now(),
                    updated_at=self._dt(updated) or self._now(),
                    error=error,
                    run_ids=tuple(runs.get(sid, [])),
                    outcomes={r[1]: dict(self._unjson(r[4])) for r in mem if r[4] is not None},
                    timeline=tuple(events.get(sid, [])),
                    worker_id=worker,
                    lease_until=self._dt(lease),
                    attempts=int(attempts),
                )
            )
        return out

    def get_session(self, session_id: str) -> Session | None:
        with self._tx(write=False) as tx:
            found = self._load(tx, [session_id])
        return found[0] if found else None

    def list_sessions(
        self, status: str | None = None, *, limit: int | None = None
    ) -> list[Session]:
        if status is not None and status not in SESSION_STATUSES:
            raise UsageError(
                f"unknown session status {status!r}: one of {', '.join(SESSION_STATUSES)}"
            )
        with self._tx(write=False) as tx:
            return self._load(tx, None, status=status, limit=limit)

    def _lock_session(self, tx: Tx, session_id: str) -> tuple[Any, ...]:
        row = tx.one(
            f"SELECT status, worker_id, lease_until FROM sessions WHERE session_id = ?"
            f"{self.for_update}",
            [session_id],
        )
        if row is None:
            raise UnknownSessionError(
                f"no session {session_id!r}; see `trackline sessions list` for the ids"
            )
        return row

    def claim_session(self, session_id: str, worker_id: str, lease_seconds: float) -> bool:
        lease = check_lease(lease_seconds)
        with self._tx() as tx:
            status, owner, lease_until = self._lock_session(tx, session_id)
            now = self._now()
            if not claimable(status, self._dt(lease_until), now):
                return False
            message = (
                "claimed" if status == "pending" else f"reclaimed: the lease of {owner} expired"
            )
            tx.exec(
                "UPDATE sessions SET status = 'running', worker_id = ?, lease_until = ?, "
                "attempts = attempts + 1, updated_at = ?, error = NULL WHERE session_id = ?",
                [worker_id, self._ts(now + timedelta(seconds=lease)), self._ts(now), session_id],
            )
            self._event(tx, session_id, "running", now, message, worker_id)
        log.info("session.claimed session_id=%s worker_id=%s", session_id, worker_id)
        return True

    def renew_lease(self, session_id: str, worker_id: str, lease_seconds: float) -> bool:
        lease = check_lease(lease_seconds)
        with self._tx() as tx:
            status, owner, _ = self._lock_session(tx, session_id)
            if status != "running" or owner != worker_id:
                return False
            now = self._now()
            tx.exec(
                "UPDATE sessions SET lease_until = ?, updated_at = ? WHERE session_id = ?",
                [self._ts(now + timedelta(seconds=lease)), self._ts(now), session_id],
            )
        return True

    def finish_session(
        self, session_id: str, worker_id: str, status: str, error: str | None = None
    ) -> Session:
        with self._tx() as tx:
            current, owner, _ = self._lock_session(tx, session_id)
            check_finish(session_id, current, owner, worker_id, status, error)
            now = self._now()
            tx.exec(
                "UPDATE sessions SET status = ?, error = ?, lease_until = NULL, updated_at = ? "
                "WHERE session_id = ?",
                [status, error, self._ts(now), session_id],
            )
            self._event(tx, session_id, status, now, error, worker_id)
            found = self._load(tx, [session_id])
        log.info("session.finished session_id=%s status=%s", session_id, status)
        return found[0]

    def record_user_outcome(self, session_id: str, user_id: str, outcome: dict[str, Any]) -> None:
        if not isinstance(outcome, dict):
            raise UsageError(f"an outcome must be a JSON object, got {type(outcome).__name__}")
        with self._tx() as tx:
            current, _, _ = self._lock_session(tx, session_id)
            if current != "running":
                raise SessionTransitionError(
                    f"session {session_id} is {current!r}: outcomes are recorded while it runs"
                )
            now = self._now()
            n = tx.exec(
                "UPDATE session_users SET outcome = ?, outcome_at = ? "
                "WHERE session_id = ? AND user_id = ?",
                [self._json(outcome), self._ts(now), session_id, user_id],
            )
            if n == 0:
                raise UnknownUserError(f"user {user_id!r} is not a member of session {session_id}")
            tx.exec(
                "UPDATE sessions SET updated_at = ? WHERE session_id = ?",
                [self._ts(now), session_id],
            )

    def add_run_id(self, session_id: str, run_id: str) -> None:
        check_key(run_id, "run id")
        with self._tx() as tx:
            self._lock_session(tx, session_id)
            row = tx.one("SELECT count(*) FROM session_runs WHERE session_id = ?", [session_id])
            tx.exec(
                "INSERT INTO session_runs (session_id, run_id, pos) VALUES (?, ?, ?) "
                "ON CONFLICT (session_id, run_id) DO NOTHING",
                [session_id, run_id, int(row[0]) if row else 0],
            )

    def session_timeline(self, session_id: str) -> list[StatusChange]:
        found = self.get_session(session_id)
        if found is None:
            raise UnknownSessionError(
                f"no session {session_id!r}; see `trackline sessions list` for the ids"
            )
        return list(found.timeline)
