"""Where the dashboard reads: the warehouse (through its protocol) and the state store.

Each request opens the warehouse read-only and closes it before answering, so the dashboard
never holds the DuckDB file a stream writes between its micro-batches (a reader waits for the
file a bounded time, `warehouse_read_wait_seconds`). Answers that cost a scan (histograms,
drift, group analytics) are cached in memory under the warehouse's version: the number of runs
and the rows they took in, which every commit changes. No SQL ever comes from a request: every
statement is a constant of this package, values are bound as `$name` parameters. The SQL is
DuckDB's dialect, kept plain (the BigQuery warehouse translates it with sqlglot).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, TypeVar

import pyarrow as pa

from trackline.config import Settings
from trackline.core.dialect import ident
from trackline.errors import QueryError, TracklineError
from trackline.state.base import StateStore
from trackline.warehouse.base import Warehouse, open_warehouse
from trackline.warehouse.duckdb import query as duckdb_query
from trackline.warehouse.duckdb import wanted_since

log = logging.getLogger(__name__)
T = TypeVar("T")
CACHE_ENTRIES = 512
KEEP_SECONDS = 10.0  # a read-only opening outlives its last request this long (warm cache)
KEEP_POLL_SECONDS = 0.05  # how often an idle opening looks for a writer asking for the file
YIELD_SECONDS = 0.05  # after closing for a waiting writer, before opening again
VERSION_SQL = "SELECT count(*) AS runs, sum(input_rows) AS rows FROM meta.runs"


class Cache:
    """A small thread-safe LRU of computed page parts."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self._data: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()
        self.entries = entries

    def get(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                value: T = self._data[key]
                return value
        value = make()
        with self._lock:
            self._data[key] = value
            while len(self._data) > self.entries:
                self._data.popitem(last=False)
        return value


class Refresher:
    """Answers that take long (a group report over millions of plays), computed on a thread:
    a request gets the latest answer at once (maybe from an older warehouse version, with its
    time) and, when the warehouse changed, starts one computation of the new one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: dict[Hashable, tuple[Any, Any, float]] = {}  # key -> version, value, at
        self._running: set[Hashable] = set()

    def get(
        self, key: Hashable, version: Any, make: Callable[[], Any]
    ) -> tuple[Any, float | None, bool]:
        """(value or None, when it was computed, whether it is for `version`); a value may be
        the exception its computation raised."""
        with self._lock:
            have = self._done.get(key)
            if have is not None and have[0] == version:
                return have[1], have[2], True
            if key not in self._running:
                self._running.add(key)
                threading.Thread(
                    target=self._run, args=(key, version, make), daemon=True,
                    name="trackline-dashboard-refresh",
                ).start()  # fmt: skip
        return (have[1], have[2], False) if have is not None else (None, None, False)

    def _run(self, key: Hashable, version: Any, make: Callable[[], Any]) -> None:
        try:
            value = make()
        except Exception as exc:  # shown on the page (a TracklineError says what to do)
            if not isinstance(exc, TracklineError):
                log.exception("dashboard.refresh_failed")
            value = exc
        with self._lock:
            self._done[key] = (version, value, time.time())
            self._running.discard(key)


class _Cursor:
    """A request's own DuckDB connection (a cursor) on the shared read-only opening."""

    name = "duckdb"

    def __init__(self, wh: Warehouse) -> None:
        self.con = wh.con.cursor()  # type: ignore[attr-defined]

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        return duckdb_query(self.con, sql, params)

    def read_only_query(self, sql: str) -> pa.Table:
        raise QueryError("the dashboard runs no SQL from a request")

    def close(self) -> None:
        self.con.close()


class Source:
    """The dashboard's one way in to the data; one per app."""

    def __init__(self, settings: Settings, *, kind: str | None = None) -> None:
        self.settings = settings
        self.kind = kind or settings.warehouse_kind  # duckdb | bigquery (`warehouse_uri`)
        self.cache = Cache()
        self.background = Refresher()
        self._turn = threading.Condition()
        self._shared: Warehouse | None = None
        self._users = 0
        self._generation = 0  # acquisitions so far: an idle timer closes only its own
        self._opened_at = 0.0

    @contextmanager
    def warehouse(self) -> Iterator[Reads]:
        """The warehouse for one request. DuckDB: one read-only opening shared by the
        requests in flight (each on its own cursor: DuckDB gives a process one instance per
        file), kept `KEEP_SECONDS` after the last one (its cache stays warm) unless a writer
        asks for the file (`<warehouse>.writing`, looked at every `KEEP_POLL_SECONDS`): then
        it is closed and requests wait for a new opening, which the writer's turn comes
        before."""
        if self.kind != "duckdb":
            wh = open_warehouse(self.settings, read_only=True, kind=self.kind)
            try:
                yield Reads(wh)
            finally:
                wh.close()
            return
        shared = self._acquire()
        try:
            cursor = _Cursor(shared)
            try:
                yield Reads(cursor)
            finally:
                cursor.close()
        finally:
            self._release()

    def _writer_waits(self) -> bool:
        return wanted_since(self.settings.warehouse, self._opened_at, writer=True)

    def _acquire(self) -> Warehouse:
        with self._turn:
            if self._shared is not None and self._writer_waits():
                while self._users:  # in-flight requests finish; new ones do not join
                    self._turn.wait(0.05)
                self._close()
                time.sleep(YIELD_SECONDS)  # the writer takes the file first
            if self._shared is None:
                self._shared = open_warehouse(self.settings, read_only=True, kind=self.kind)
                self._opened_at = time.time()
            self._users += 1
            self._generation += 1
            return self._shared

    def _release(self) -> None:
        with self._turn:
            self._users -= 1
            self._turn.notify_all()
            if self._users:
                return
            if self._writer_waits():
                self._close()
                return
            generation = self._generation
        keeper = threading.Thread(
            target=self._keep, args=(generation,), daemon=True, name="trackline-dashboard-keep"
        )
        keeper.start()

    def _keep(self, generation: int) -> None:
        """Keep the idle opening `KEEP_SECONDS`, letting it go at once when a writer asks
        (checked every `KEEP_POLL_SECONDS`); a newer request's keeper takes over."""
        deadline = time.monotonic() + KEEP_SECONDS
        while True:
            time.sleep(KEEP_POLL_SECONDS)
            with self._turn:
                if self._users or generation != self._generation:
                    return
                if time.monotonic() >= deadline or self._writer_waits():
                    self._close()
                    return

    def _close(self) -> None:
        if self._shared is not None:
            self._shared.close()
            self._shared = None

    @contextmanager
    def state(self) -> Iterator[StateStore]:
        from trackline.state import open_state

        store = open_state(self.settings)
        try:
            yield store
        finally:
            store.close()

    def has_warehouse(self) -> bool:
        return self.kind != "duckdb" or self.settings.warehouse.exists()


class Reads:
    """Queries on one open warehouse, with the dialect's few differences in one place."""

    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh
        self.dialect = getattr(wh, "name", "duckdb")
        self._version: tuple[int, int] | None = None

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The result as dicts; a sum's DECIMAL (DuckDB's HUGEINT, BigQuery's NUMERIC) as a
        plain int or float, so pages do arithmetic on it."""
        result: list[dict[str, Any]] = self.wh.query(sql, params).to_pylist()
        for row in result:
            for k, v in row.items():
                if isinstance(v, Decimal):
                    row[k] = int(v) if v == v.to_integral_value() else float(v)
        return result

    def table(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        return self.wh.query(sql, params)

    text_type = "VARCHAR"

    def ident(self, name: str) -> str:
        return ident(name)

    def relation(self, schema: str, name: str) -> str:
        """A table's qualified name (`name` is checked by the caller against known names)."""
        return f"{schema}.{ident(name)}"

    def version(self) -> tuple[int, int]:
        """Changes with every committed run or stream batch: the key cached answers live under."""
        if self._version is None:
            (row,) = self.rows(VERSION_SQL)
            self._version = (int(row["runs"] or 0), int(row["rows"] or 0))
        return self._version

    def array_contains(self, column: str, param: str) -> str:
        """SQL: the array `column` holds the bound value `$param`."""
        return f"list_contains({column}, ${param})"

    def has_table(self, schema: str, name: str) -> bool:
        """The table exists (a warehouse made before it was added may lack a `meta` one)."""
        if self.dialect == "bigquery":
            try:
                self.wh.query(f"SELECT 1 AS x FROM {schema}.{ident(name)} LIMIT 1")
            except TracklineError as exc:
                if "not found" in str(exc).lower():
                    return False
                raise
            return True
        rows = self.rows(
            "SELECT count(*) AS n FROM information_schema.tables "
            "WHERE table_schema = $s AND table_name = $t",
            {"s": schema, "t": name},
        )
        return bool(rows[0]["n"])

    def tables(self) -> set[str]:
        """Dataset tables in the warehouse's main schema."""
        if self.dialect == "bigquery":
            lister = getattr(self.wh, "tables", None)
            return set(lister()) if callable(lister) else set()
        rows = self.rows(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        )
        return {str(r["table_name"]) for r in rows}
