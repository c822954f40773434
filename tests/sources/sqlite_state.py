"""A tiny SQLite-backed store implementing just the ConnectorState protocol, for tests until
(and besides) the real state store: tokens, cursors, docs, users."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass
class MiniUser:
    user_id: str
    is_active: bool = True
    providers: dict[str, str] = field(default_factory=dict)
    reauth_reasons: dict[str, str] = field(default_factory=dict)


class SQLiteState:
    scheme = "sqlite"

    def __init__(self, path: Path) -> None:
        self.con = sqlite3.connect(str(path), check_same_thread=False)
        self.lock = threading.Lock()
        self.token_writes: list[tuple[str, str, str]] = []
        with self.lock:
            self.con.executescript(
                "CREATE TABLE IF NOT EXISTS users(id TEXT PRIMARY KEY, active INT);"
                "CREATE TABLE IF NOT EXISTS tokens(user TEXT, provider TEXT, token TEXT,"
                " status TEXT, reason TEXT, PRIMARY KEY(user, provider));"
                "CREATE TABLE IF NOT EXISTS cursors(k TEXT PRIMARY KEY, v TEXT);"
                "CREATE TABLE IF NOT EXISTS docs(c TEXT, k TEXT, v TEXT, PRIMARY KEY(c, k));"
            )

    def close(self) -> None:
        pass

    def add_user(self, user_id: str) -> MiniUser:
        with self.lock:
            self.con.execute("INSERT OR IGNORE INTO users VALUES (?, 1)", (user_id,))
            self.con.commit()
        user = self.get_user(user_id)
        assert user is not None
        return user

    def get_user(self, user_id: str) -> MiniUser | None:
        with self.lock:
            row = self.con.execute("SELECT id, active FROM users WHERE id=?", (user_id,)).fetchone()
            if row is None:
                return None
            toks = self.con.execute(
                "SELECT provider, status, reason FROM tokens WHERE user=?", (user_id,)
            ).fetchall()
        return MiniUser(
            row[0],
            bool(row[1]),
            {p: s for p, s, _ in toks},
            {p: r for p, s, r in toks if s == "needs_reauth"},
        )

    def list_users(self, *, active_only: bool = False) -> list[MiniUser]:
        with self.lock:
            ids = [r[0] for r in self.con.execute("SELECT id FROM users ORDER BY id")]
        users = [u for u in (self.get_user(i) for i in ids) if u is not None]
        return [u for u in users if u.is_active or not active_only]

    def touch_user(self, user_id: str, when: datetime | None = None) -> None:
        _ = when or datetime.now(UTC)

    def set_refresh_token(self, user_id: str, provider: str, token: str) -> None:
        self.add_user(user_id)
        with self.lock:
            self.con.execute(
                "INSERT OR REPLACE INTO tokens VALUES (?, ?, ?, 'connected', NULL)",
                (user_id, provider, token),
            )
            self.con.commit()
            self.token_writes.append((user_id, provider, token))

    def get_refresh_token(self, user_id: str, provider: str) -> str | None:
        with self.lock:
            row = self.con.execute(
                "SELECT token FROM tokens WHERE user=? AND provider=?", (user_id, provider)
            ).fetchone()
        return row[0] if row else None

    def mark_needs_reauth(self, user_id: str, provider: str, reason: str) -> None:
        with self.lock:
            self.con.execute(
                "INSERT INTO tokens VALUES (?, ?, NULL, 'needs_reauth', ?) ON CONFLICT(user, "
                "provider) DO UPDATE SET status='needs_reauth', reason=excluded.reason",
                (user_id, provider, reason),
            )
            self.con.commit()

    def get_cursor(self, key: str) -> str | None:
        with self.lock:
            row = self.con.execute("SELECT v FROM cursors WHERE k=?", (key,)).fetchone()
        return row[0] if row else None

    def set_cursor(self, key: str, value: str) -> None:
        with self.lock:
            self.con.execute("INSERT OR REPLACE INTO cursors VALUES (?, ?)", (key, value))
            self.con.commit()

    def get_doc(self, collection: str, key: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.con.execute(
                "SELECT v FROM docs WHERE c=? AND k=?", (collection, key)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def put_doc(self, collection: str, key: str, value: dict[str, Any]) -> None:
        with self.lock:
            self.con.execute(
                "INSERT OR REPLACE INTO docs VALUES (?, ?, ?)", (collection, key, json.dumps(value))
            )
            self.con.commit()
