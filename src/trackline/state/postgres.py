"""PostgreSQL state store (`postgresql://user@host:port/db?schema=NAME`), for several workers.

Tables live in one schema (default `trackline`; `?schema=` picks another, which is how tests
isolate runs). Claims lock the session row with SELECT ... FOR UPDATE inside a transaction, so
of two workers racing for one session exactly one wins. Migrations run under an advisory lock,
so workers starting together do not apply one twice. Needs the `postgres` extra (psycopg 3).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from trackline.config import Settings
from trackline.state.base import redact_uri, require_extra
from trackline.state.crypto import LazyCipher
from trackline.state.errors import StateError, StateURIError
from trackline.state.schema import migrations
from trackline.state.sql import Cipher, SQLStore

DEFAULT_SCHEMA = "trackline"
_SCHEMA = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_MIGRATION_LOCK = 7_311_402_118  # advisory lock id: "trackline state migrations"


def parse_uri(uri: str) -> tuple[str, str]:
    """Split off trackline's `schema` parameter: (conninfo for psycopg, schema name)."""
    parts = urlsplit(uri)
    if parts.scheme not in ("postgresql", "postgres") or (not parts.hostname and not parts.path):
        raise StateURIError(
            f"invalid PostgreSQL state URI {redact_uri(uri)!r}: use "
            "postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=NAME]"
        )
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = DEFAULT_SCHEMA
    rest = []
    for k, v in query:
        if k == "schema":
            schema = v
        else:
            rest.append((k, v))
    if not _SCHEMA.match(schema):
        raise StateURIError(
            f"invalid schema {schema!r} in the state URI: letters, digits and '_', at most 63"
        )
    conninfo = urlunsplit(parts._replace(scheme="postgresql", query=urlencode(rest)))
    return conninfo, schema


class _Tx:
    def __init__(self, cur: Any) -> None:
        self.cur = cur

    @staticmethod
    def _q(sql: str) -> str:
        return sql.replace("?", "%s")

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.cur.execute(self._q(sql), list(params))
        return [tuple(r) for r in self.cur.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        self.cur.execute(self._q(sql), list(params))
        row = self.cur.fetchone()
        return None if row is None else tuple(row)

    def exec(self, sql: str, params: Sequence[Any] = ()) -> int:
        self.cur.execute(self._q(sql), list(params))
        return int(self.cur.rowcount)


class PostgresStore(SQLStore):
    scheme = "postgresql"
    for_update = " FOR UPDATE"

    def __init__(self, uri: str, cipher: Cipher) -> None:
        conninfo, self.schema = parse_uri(uri)
        super().__init__(cipher, where=redact_uri(uri))
        self._psycopg = require_extra("psycopg", "postgres")
        self._jsonb = require_extra("psycopg.types.json", "postgres").Jsonb
        self._lock = threading.RLock()
        try:
            self._con = self._psycopg.connect(conninfo, autocommit=True, connect_timeout=10)
        except self._psycopg.Error as exc:
            raise StateError(
                f"cannot connect to the state store {redact_uri(uri)}: {exc}; check that "
                "PostgreSQL is running and TRACKLINE_STATE_URI is right"
            ) from None
        ident = self._psycopg.sql.Identifier(self.schema)
        with self._tx() as tx:
            tx.cur.execute("SELECT pg_advisory_xact_lock(%s)", [_MIGRATION_LOCK])
            tx.cur.execute(self._psycopg.sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident))
            tx.cur.execute(self._psycopg.sql.SQL("SET search_path TO {}").format(ident))
            self._migrate(tx, migrations("TIMESTAMPTZ", "JSONB"))

    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[_Tx]:
        with self._lock:
            try:
                with self._con.transaction(), self._con.cursor() as cur:
                    yield _Tx(cur)
            except self._psycopg.Error as exc:
                raise StateError(f"state store {self.where}: {exc}") from None

    def _json(self, value: Any) -> Any:
        return self._jsonb(value)

    def _dt(self, value: Any) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    def close(self) -> None:
        with self._lock:
            self._con.close()


def open_store(uri: str, settings: Settings) -> PostgresStore:
    return PostgresStore(uri, LazyCipher(settings))
