"""The plumbing shared by the SQL state backends (SQLite, PostgreSQL): a dialect supplies
transactions (`_tx`), the row lock suffix (`FOR UPDATE` on PostgreSQL; SQLite locks the whole
file with BEGIN IMMEDIATE) and value conversions; migrations run here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol

from trackline.state.base import (
    Clock,
    utcnow,
)
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


class SQLBase:
    """A SQL dialect's plumbing: transactions, value conversions, migrations."""

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
