"""The store logic shared by the SQL backends (SQLite, PostgreSQL).

A dialect supplies transactions (`_tx`), the row lock suffix (`FOR UPDATE` on PostgreSQL; SQLite
locks the whole file with BEGIN IMMEDIATE) and value conversions. Everything a worker could race
on (claiming, finishing, renewing a lease) reads and writes the session row inside one
transaction that holds that lock, so two workers never both win.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from trackline.errors import UsageError
from trackline.state.base import (
    SESSION_STATUSES,
    Clock,
    Session,
    SessionUser,
    StatusChange,
    User,
    check_collection,
    check_finish,
    check_key,
    check_lease,
    check_provider,
    check_user_id,
    claimable,
    utcnow,
)
from trackline.state.errors import SessionTransitionError, UnknownSessionError, UnknownUserError
from trackline.state.schema import MIGRATIONS_TABLE, Migration, check_version

log = logging.getLogger(__name__)


class Cipher(Protocol):
    def encrypt(self, plaintext: str) -> str: ...
    def decrypt(self, ciphertext: str, *, what: str = ...) -> str: ...


class Tx(Protocol):
    """One open transaction; `?` placeholders whatever the dialect."""

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None: ...
    def exec(self, sql: str, params: Sequence[Any] = ()) -> int: ...


def marks(n: int) -> str:
    return ", ".join("?" * n)


class SQLStore:
    scheme = "sql"
    for_update = ""

    def __init__(self, cipher: Cipher, where: str) -> None:
        self.cipher = cipher
        self.where = where  # a redacted description for messages
        self.clock: Clock = utcnow

    # dialect hooks -------------------------------------------------------------------------
    def _tx(self, write: bool = True) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def _ts(self, dt: datetime | None) -> Any:
        return dt

    def _dt(self, value: Any) -> datetime | None:
        return value  # type: ignore[no-any-return]

    def _json(self, value: Any) -> Any:
        return json.dumps(value, sort_keys=True)

    def _unjson(self, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    def close(self) -> None:
        raise NotImplementedError

    def _now(self) -> datetime:
        now = self.clock()
        return now if now.tzinfo else now.replace(tzinfo=UTC)

    # schema --------------------------------------------------------------------------------
    def _migrate(self, tx: Tx, migrations: Sequence[Migration]) -> None:
        tx.exec(
            f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (version INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        row = tx.one(f"SELECT max(version) FROM {MIGRATIONS_TABLE}")
        current = int(row[0]) if row and row[0] is not None else 0
        check_version(current, migrations[-1].version, self.where)
        for m in migrations:
            if m.version <= current:
                continue
            for statement in m.statements:
                tx.exec(statement)
            tx.exec(
                f"INSERT INTO {MIGRATIONS_TABLE} (version, name, applied_at) VALUES (?, ?, ?)",
                [m.version, m.name, self._now().isoformat()],
            )
            log.debug("state.migrated version=%d name=%r", m.version, m.name)

    def schema_version(self) -> int:
        with self._tx(write=False) as tx:
            row = tx.one(f"SELECT max(version) FROM {MIGRATIONS_TABLE}")
        return int(row[0]) if row and row[0] is not None else 0

    # users and tokens ----------------------------------------------------------------------
    def add_user(self, user_id: str) -> User:
        check_user_id(user_id)
        with self._tx() as tx:
            tx.exec(
                "INSERT INTO users (user_id, is_active, last_active, created_at) "
                "VALUES (?, ?, NULL, ?) ON CONFLICT (user_id) DO NOTHING",
                [user_id, True, self._ts(self._now())],
            )
            users = self._users(tx, [user_id])
        return users[0]

    def _users(self, tx: Tx, ids: Sequence[str] | None, active_only: bool = False) -> list[User]:
        where, params = "", list[Any](ids or [])
        if ids is not None:
            if not ids:
                return []
            where = f"WHERE user_id IN ({marks(len(ids))})"
        if active_only:
            where += (" AND " if where else "WHERE ") + "is_active = ?"
            params.append(True)
        rows = tx.all(
            "SELECT user_id, is_active, last_active, created_at FROM users "
            f"{where} ORDER BY user_id",
            params,
        )
        tokens: dict[str, list[tuple[Any, ...]]] = {}
        if rows:
            ids_found = [r[0] for r in rows]
            for t in tx.all(
                "SELECT user_id, provider, status, reason FROM tokens "
                f"WHERE user_id IN ({marks(len(ids_found))}) ORDER BY provider",
                ids_found,
            ):
                tokens.setdefault(t[0], []).append(t)
        users = []
        for uid, active, last, created in rows:
            own = tokens.get(uid, [])
            users.append(
                User(
                    user_id=uid,
                    is_active=bool(active),
                    last_active=self._dt(last),
                    created_at=self._dt(created) or self._now(),
                    providers={t[1]: t[2] for t in own},
                    reauth_reasons={t[1]: t[3] for t in own if t[2] == "needs_reauth" and t[3]},
                )
            )
        return users

    def get_user(self, user_id: str) -> User | None:
        with self._tx(write=False) as tx:
            users = self._users(tx, [user_id])
        return users[0] if users else None

    def list_users(self, *, active_only: bool = False) -> list[User]:
        with self._tx(write=False) as tx:
            return self._users(tx, None, active_only=active_only)

    def remove_user(self, user_id: str) -> bool:
        with self._tx() as tx:
            tx.exec("DELETE FROM tokens WHERE user_id = ?", [user_id])
            return tx.exec("DELETE FROM users WHERE user_id = ?", [user_id]) > 0

    def _update_user(self, tx: Tx, user_id: str, sql: str, params: list[Any]) -> None:
        if tx.exec(sql, [*params, user_id]) == 0:
            raise UnknownUserError(
                f"no user {user_id!r}: add it with `trackline users add {user_id}`"
            )

    def set_active(self, user_id: str, active: bool) -> None:
        with self._tx() as tx:
            self._update_user(
                tx, user_id, "UPDATE users SET is_active = ? WHERE user_id = ?", [bool(active)]
            )

    def touch_user(self, user_id: str, when: datetime | None = None) -> None:
        at = when or self._now()
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        with self._tx() as tx:
            self._update_user(
                tx, user_id, "UPDATE users SET last_active = ? WHERE user_id = ?", [self._ts(at)]
            )

    def _set_token_row(
        self, user_id: str, provider: str, ciphertext: str | None, status: str, reason: str | None
    ) -> None:
        check_provider(provider)
        with self._tx() as tx:
            if tx.one(f"SELECT 1 FROM users WHERE user_id = ?{self.for_update}", [user_id]) is None:
                raise UnknownUserError(
                    f"no user {user_id!r}: add it with `trackline users add {user_id}`"
                )
            if ciphertext is None:  # keep the stored token, only change the status
                tx.exec(
                    "INSERT INTO tokens (user_id, provider, ciphertext, status, reason, "
                    "updated_at) VALUES (?, ?, NULL, ?, ?, ?) ON CONFLICT (user_id, provider) "
                    "DO UPDATE SET status = excluded.status, reason = excluded.reason, "
                    "updated_at = excluded.updated_at",
                    [user_id, provider, status, reason, self._ts(self._now())],
                )
            else:
                tx.exec(
                    "INSERT INTO tokens (user_id, provider, ciphertext, status, reason, "
                    "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, provider) "
                    "DO UPDATE SET ciphertext = excluded.ciphertext, status = excluded.status, "
                    "reason = excluded.reason, updated_at = excluded.updated_at",
                    [user_id, provider, ciphertext, status, reason, self._ts(self._now())],
                )

    def set_refresh_token(self, user_id: str, provider: str, token: str) -> None:
        if not token:
            raise UsageError(f"an empty {provider} refresh token cannot be stored")
        self._set_token_row(user_id, provider, self.cipher.encrypt(token), "connected", None)
        log.info("token.stored user_id=%s provider=%s", user_id, provider)

    def get_refresh_token(self, user_id: str, provider: str) -> str | None:
        with self._tx(write=False) as tx:
            row = tx.one(
                "SELECT ciphertext FROM tokens WHERE user_id = ? AND provider = ?",
                [user_id, provider],
            )
        if row is None or row[0] is None:
            return None
        return self.cipher.decrypt(row[0], what=f"the {provider} refresh token of user {user_id!r}")

    def mark_needs_reauth(self, user_id: str, provider: str, reason: str) -> None:
        self._set_token_row(user_id, provider, None, "needs_reauth", reason)
        log.warning("token.needs_reauth user_id=%s provider=%s", user_id, provider)

    # cursors and documents -----------------------------------------------------------------
    def get_cursor(self, key: str) -> str | None:
        with self._tx(write=False) as tx:
            row = tx.one("SELECT value FROM cursors WHERE key = ?", [key])
        return None if row is None else str(row[0])

    def set_cursor(self, key: str, value: str) -> None:
        check_key(key, "cursor key")
        with self._tx() as tx:
            tx.exec(
                "INSERT INTO cursors (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                [key, str(value), self._ts(self._now())],
            )

    def get_doc(self, collection: str, key: str) -> dict[str, Any] | None:
        with self._tx(write=False) as tx:
            row = tx.one(
                "SELECT value FROM docs WHERE collection = ? AND key = ?", [collection, key]
            )
        return None if row is None else dict(self._unjson(row[0]))

    def put_doc(self, collection: str, key: str, value: dict[str, Any]) -> None:
        check_collection(collection)
        check_key(key, "document key")
        if not isinstance(value, dict):
            raise UsageError(f"a document must be a JSON object, got {type(value).__name__}")
        with self._tx() as tx:
            tx.exec(
                "INSERT INTO docs (collection, key, value, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (collection, key) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                [collection, key, self._json(value), self._ts(self._now())],
            )

    def delete_doc(self, collection: str, key: str) -> bool:
        with self._tx() as tx:
            n = tx.exec("DELETE FROM docs WHERE collection = ? AND key = ?", [collection, key])
        return n > 0

    def list_docs(self, collection: str) -> dict[str, dict[str, Any]]:
        with self._tx(write=False) as tx:
            rows = tx.all(
                "SELECT key, value FROM docs WHERE collection = ? ORDER BY key", [collection]
            )
        return {k: dict(self._unjson(v)) for k, v in rows}

    # sessions ------------------------------------------------------------------------------
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
