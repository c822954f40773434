"""Embedded serving store: SQLite tables keyed by row key (WITHOUT ROWID keeps them ordered by
key, like a Bigtable tablet). The default: no server, one file under the home."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from trackline.errors import ServingError, UsageError

TABLE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class SQLiteKV:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
            self.con.execute("PRAGMA journal_mode=WAL")
            self.con.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise ServingError(f"cannot open the serving store {path}: {exc}") from None
        self._tables: set[str] = set()

    @classmethod
    def from_uri(cls, uri: str) -> SQLiteKV:
        parts = urlsplit(uri)
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise UsageError("sqlite serving URI needs a path: sqlite:///path/to/serving.sqlite")
        return cls(Path(path))

    def _table(self, table: str) -> str:
        if not TABLE.match(table):
            raise UsageError(f"invalid serving table name {table!r}")
        name = f"kv_{table}"
        if table not in self._tables:
            self.con.execute(
                f"CREATE TABLE IF NOT EXISTS {name} (k TEXT PRIMARY KEY, v TEXT NOT NULL) "
                "WITHOUT ROWID"
            )
            self._tables.add(table)
        return name

    def put_many(self, table: str, items: Sequence[tuple[str, str]]) -> None:
        name = self._table(table)
        with self.con:
            self.con.executemany(f"INSERT OR REPLACE INTO {name} (k, v) VALUES (?, ?)", items)

    def scan(self, table: str, start: str, stop: str, limit: int) -> list[tuple[str, str]]:
        name = self._table(table)
        rows = self.con.execute(
            f"SELECT k, v FROM {name} WHERE k >= ? AND k < ? ORDER BY k LIMIT ?",
            (start, stop, limit),
        ).fetchall()
        return [(str(k), str(v)) for k, v in rows]

    def get(self, table: str, key: str) -> str | None:
        row = self.con.execute(f"SELECT v FROM {self._table(table)} WHERE k = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def close(self) -> None:
        self.con.close()
