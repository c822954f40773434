"""The store logic shared by the SQL backends (SQLite, PostgreSQL): users, refresh tokens,
cursors and documents here; sessions in `sql_sessions`, the plumbing in `sql_base`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from trackline.errors import UsageError
from trackline.state.base import (
    User,
    check_collection,
    check_key,
    check_provider,
    check_user_id,
)
from trackline.state.crypto import seal, unseal
from trackline.state.errors import UnknownUserError
from trackline.state.sql_base import Cipher, SQLBase, Tx, marks
from trackline.state.sql_sessions import SQLSessions

log = logging.getLogger(__name__)

__all__ = ["Cipher", "SQLBase", "SQLStore", "Tx", "marks"]


class SQLStore(SQLSessions):
    """A state store on SQL: the dialect subclasses supply `_tx` and conversions."""

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
        ciphertext = self.cipher.encrypt(seal(user_id, provider, token))
        self._set_token_row(user_id, provider, ciphertext, "connected", None)
        log.info("token.stored user_id=%s provider=%s", user_id, provider)

    def get_refresh_token(self, user_id: str, provider: str) -> str | None:
        with self._tx(write=False) as tx:
            row = tx.one(
                "SELECT ciphertext FROM tokens WHERE user_id = ? AND provider = ?",
                [user_id, provider],
            )
        if row is None or row[0] is None:
            return None
        what = f"the {provider} refresh token of user {user_id!r}"
        plain = self.cipher.decrypt(row[0], what=what)
        return unseal(plain, user_id, provider)[0]

    def rewrap_tokens(self, rewrap: Callable[[str, str, str], str]) -> int:
        """Replace every stored ciphertext with `rewrap(user_id, provider, ciphertext)` in one
        transaction (`trackline keys rotate`): all tokens move to the new key, or none do."""
        with self._tx() as tx:
            rows = tx.all(
                "SELECT user_id, provider, ciphertext FROM tokens WHERE ciphertext IS NOT NULL "
                f"ORDER BY user_id, provider{self.for_update}"
            )
            for user_id, provider, ciphertext in rows:
                tx.exec(
                    "UPDATE tokens SET ciphertext = ? WHERE user_id = ? AND provider = ?",
                    [rewrap(user_id, provider, ciphertext), user_id, provider],
                )
        return len(rows)

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
