"""The default state store: one SQLite file (`sqlite:///PATH`), safe for several processes.

WAL lets readers run beside the one writer; every write transaction starts with BEGIN IMMEDIATE,
so it takes the file's write lock before it reads what it will change (a claim cannot interleave
with another). A busy timeout makes concurrent writers wait instead of failing.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trackline.config import Settings
from trackline.state.crypto import LazyCipher
from trackline.state.errors import StateError, StateURIError
from trackline.state.schema import migrations
from trackline.state.sql import Cipher, SQLStore

BUSY_TIMEOUT_S = 30.0
_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width: text order is time order


class _Tx:
    def __init__(self, cur: sqlite3.Cursor) -> None:
        self.cur = cur

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.cur.execute(sql, tuple(params)).fetchall())

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        row = self.cur.execute(sql, tuple(params)).fetchone()
        return None if row is None else tuple(row)

    def exec(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.cur.execute(sql, tuple(params)).rowcount


def path_from_uri(uri: str) -> Path:
    """`sqlite:///rel/path.db` is relative, `sqlite:////abs/path.db` absolute (as SQLAlchemy)."""
    prefix = "sqlite:///"
    if not uri.lower().startswith(prefix) or len(uri) == len(prefix):
        raise StateURIError(
            f"invalid SQLite state URI {uri!r}: use sqlite:///PATH (e.g. sqlite:///state.db, "
            "or sqlite:////absolute/path/state.db)"
        )
    return Path(uri[len(prefix) :].split("?", 1)[0])


def _create_private(path: Path) -> None:
    """Create the database file 0600 (its folder 0700 when new) before SQLite opens it: it holds
    the encrypted tokens, and SQLite gives its -wal and -shm files the database file's mode."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.parent.chmod(0o700)  # mkdir's mode is filtered by the umask
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return
    os.chmod(path, 0o600)


class SQLiteStore(SQLStore):
    scheme = "sqlite"

    def __init__(self, path: Path, cipher: Cipher) -> None:
        super().__init__(cipher, where=f"sqlite file {path.name}")
        self.path = path
        self._lock = threading.RLock()
        try:
            _create_private(path)
            self._con = sqlite3.connect(
                str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self._con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._con.execute("PRAGMA journal_mode = WAL")
            self._con.execute("PRAGMA synchronous = NORMAL")
        except (sqlite3.Error, OSError) as exc:
            raise StateError(
                f"cannot open the state store {path}: {exc}; check the path and its permissions"
            ) from None
        with self._tx() as tx:
            self._migrate(tx, migrations("TEXT", "TEXT"))

    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[_Tx]:
        with self._lock:
            cur = self._con.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                yield _Tx(cur)
            except sqlite3.Error as exc:
                if self._con.in_transaction:
                    self._con.rollback()
                raise StateError(f"state store {self.path.name}: {exc}") from None
            except BaseException:
                if self._con.in_transaction:
                    self._con.rollback()
                raise
            else:
                self._con.commit()
            finally:
                cur.close()

    def _ts(self, dt: datetime | None) -> Any:
        return None if dt is None else dt.astimezone(UTC).strftime(_TS_FORMAT)

    def _dt(self, value: Any) -> datetime | None:
        if value is None:
            return None
        return datetime.strptime(value, _TS_FORMAT).replace(tzinfo=UTC)

    def close(self) -> None:
        with self._lock:
            self._con.close()


def open_store(uri: str, settings: Settings) -> SQLiteStore:
    return SQLiteStore(path_from_uri(uri), LazyCipher(settings))
