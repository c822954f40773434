"""The DuckDB warehouse: one file, one table per contract, metadata tables in schema `meta`.

Tables are append-only with `ingestion_time` and `run_id`. An engine appends a run's rows and
its metadata through this one connection, in one transaction; checking happens elsewhere, in
the kernel's own in-memory DuckDB.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from trackline.config import Settings
from trackline.contracts.spec import DUCKDB_TYPES, Contract
from trackline.core import duck
from trackline.core.dialect import ident
from trackline.errors import QueryError, TracklineError, UsageError
from trackline.warehouse.views import create_views

# `meta.rejected.record` holds each rejected record's text as received (JSON, mostly unique):
# zstd stores it smaller and faster than DuckDB's own choice, dictionary + FSST.

# Group membership, copied from the state store for the dbt marts that join on it.
GROUPS_DDL = """
CREATE SCHEMA IF NOT EXISTS meta;
CREATE TABLE IF NOT EXISTS meta.groups (
    group_id VARCHAR NOT NULL,
    user_id VARCHAR NOT NULL,
    added_at TIMESTAMPTZ DEFAULT current_timestamp,
    PRIMARY KEY (group_id, user_id)
);
"""

META_DDL = """
CREATE SCHEMA IF NOT EXISTS meta;
CREATE TABLE IF NOT EXISTS meta.runs (
    run_id VARCHAR PRIMARY KEY,
    dataset VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    input_rows BIGINT,
    valid_rows BIGINT,
    rejected_rows BIGINT,
    duplicate_rows BIGINT,
    lake VARCHAR,
    error VARCHAR,
    manifest JSON
);
CREATE TABLE IF NOT EXISTS meta.rejected (
    run_id VARCHAR NOT NULL,
    dataset VARCHAR NOT NULL,
    record VARCHAR USING COMPRESSION zstd,
    reasons VARCHAR[],
    detail VARCHAR,
    source_file VARCHAR,
    source_line BIGINT,
    rejected_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS meta.reports (
    run_id VARCHAR NOT NULL,
    dataset VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    body JSON
);
CREATE TABLE IF NOT EXISTS meta.stream_metrics (
    run_id VARCHAR NOT NULL,
    topic VARCHAR NOT NULL,
    committed_at TIMESTAMPTZ NOT NULL,
    events BIGINT,
    valid BIGINT,
    rejected BIGINT,
    duplicates BIGINT,
    seconds DOUBLE,
    lag BIGINT,
    p50_ms DOUBLE,
    p99_ms DOUBLE
);
"""

#: How often a waiting reader tries the file again (a stream's commit takes tens of ms).
LOCK_POLL_SECONDS = 0.02
READ_ONLY_STATEMENTS = {"SELECT", "EXPLAIN", "PRAGMA"}
LOCKED_TEXT = "the configuration has been locked"
REFUSED_HINT = (
    "trackline query reads only the warehouse's tables: no files, URLs, extensions or settings"
)


class QueryFailedError(TracklineError):
    """A read-only query was accepted but failed while running (a cast, an overflow...)."""


class DuckDBWarehouse:
    name = "duckdb"

    def __init__(self, path: Path, settings: Settings, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        if read_only and not path.exists():
            raise UsageError(
                f"no warehouse at {path} yet; run `trackline demo` or "
                "`trackline ingest` first (or set --home)"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        self.threads = settings.duckdb_threads
        # Whoever finds the file taken waits (bounded) and says so (`ask_for`): for a reader,
        # a stream lets the file go after its batch (so `trackline query` and the dashboard
        # get in); for a writer, the dashboard stops keeping its read-only opening warm.
        wait = settings.warehouse_read_wait_seconds
        deadline = time.monotonic() + wait
        while True:
            try:
                self.con = duck.connect(
                    path,
                    read_only=read_only,
                    threads=settings.duckdb_threads,
                    memory_limit=settings.duckdb_memory_limit,
                    temp_directory=path.parent / "duckdb_tmp",
                    locked=read_only,  # reads on a user's behalf: lock it down
                )
                break
            except duckdb.IOException as exc:
                if _is_lock(exc) and time.monotonic() < deadline:
                    ask_for(path, writer=not read_only)
                    time.sleep(LOCK_POLL_SECONDS)
                    continue
                waited = f" (waited {wait:g}s)" if wait and _is_lock(exc) else ""
                raise TracklineError(
                    f"cannot open the warehouse {path}: {str(exc).splitlines()[0]}{waited} "
                    "(is another trackline process writing it? a batch run holds it until "
                    "it commits)"
                ) from None
        if not read_only:
            self.con.execute("SET preserve_insertion_order = false")
            self.con.execute(META_DDL)

    def set_threads(self, threads: int | None = None) -> None:
        """Set DuckDB's worker threads (None: the configured number, or all cores)."""
        n = threads or self.threads
        self.con.execute(f"SET threads = {int(n)}" if n else "RESET threads")

    # Tables ------------------------------------------------------------------------------
    def table_exists(self, name: str, schema: str = "main") -> bool:
        rows = self.con.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchall()
        return bool(rows)

    def ensure_table(self, contract: Contract, derived_types: dict[str, str]) -> None:
        """Create the contract's table, or add columns a newer contract version introduced."""
        columns = [(n, DUCKDB_TYPES[s.type]) for n, s in contract.fields.items()]
        columns += [(n, derived_types[n]) for n in contract.derived]
        columns += [("_source_file", "VARCHAR"), ("_source_line", "BIGINT")]
        columns += [("ingestion_time", "TIMESTAMPTZ"), ("run_id", "VARCHAR")]
        table = f"main.{ident(contract.name)}"
        if not self.table_exists(contract.name):
            plain = _plain_columns(contract)
            body = ", ".join(
                f"{ident(n)} {t}" + (" USING COMPRESSION uncompressed" if n in plain else "")
                for n, t in columns
            )
            self.con.execute(f"CREATE TABLE {table} ({body})")
            create_views(self.con, contract.name)
            return
        have = {
            r[0]
            for r in self.con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'main' AND table_name = ?",
                [contract.name],
            ).fetchall()
        }
        for n, t in columns:
            if n not in have:
                self.con.execute(f"ALTER TABLE {table} ADD COLUMN {ident(n)} {t}")
        create_views(self.con, contract.name)

    # Queries -----------------------------------------------------------------------------
    def query(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        return query(self.con, sql, params)

    def read_only_query(self, sql: str) -> pa.Table:
        """Run user SQL that may only read (one statement; SELECT, EXPLAIN, PRAGMA...).

        The statement check gives a clear message; the locked-down connection is what makes it
        hold (EXPLAIN ANALYZE and PRAGMA can wrap statements that reach files).
        Refused or unusable SQL raises `QueryError` (exit 2); a failure while running it,
        `QueryFailedError` (exit 1).
        """
        if not self.read_only:
            raise UsageError("read_only_query needs a warehouse opened with read_only=True")
        try:
            statements = self.con.extract_statements(sql)
        except duckdb.Error as exc:
            raise QueryError(f"cannot parse query: {_first_line(exc)}") from None
        if len(statements) != 1:
            raise QueryError("give exactly one SQL statement")
        kind = str(statements[0].type).rsplit(".", 1)[-1].upper()
        if kind not in READ_ONLY_STATEMENTS:
            raise QueryError(
                f"only read-only queries are allowed here (got {kind}); "
                "the warehouse is written by trackline runs"
            )
        try:
            return duck.table(self.con, sql)
        except (duckdb.PermissionException, duckdb.InvalidInputException) as exc:
            if isinstance(exc, duckdb.InvalidInputException) and LOCKED_TEXT not in str(exc):
                raise QueryFailedError(f"query failed: {_first_line(exc)}") from None
            raise QueryError(f"query refused: {_first_line(exc)} ({REFUSED_HINT})") from None
        except (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException) as exc:
            raise QueryError(f"cannot run query: {_first_line(exc)}") from None
        except duckdb.Error as exc:
            raise QueryFailedError(f"query failed: {_first_line(exc)}") from None

    def close(self) -> None:
        self.con.close()


def wanted_marker(path: Path, writer: bool = False) -> Path:
    """The file a process waiting for `path` touches: `<file>.wanted` for a reader (a stream
    holding the file lets it go), `<file>.writing` for a writer (a dashboard keeping a
    read-only opening lets it go)."""
    return path.with_name(path.name + (".writing" if writer else ".wanted"))


def ask_for(path: Path, *, writer: bool = False) -> None:
    """Say a reader (or a writer) is waiting for the warehouse file (its mtime is the ask)."""
    # In a read-only folder the touch fails: the holder lets go when idle, as before.
    with contextlib.suppress(OSError):
        wanted_marker(path, writer).touch()


def wanted_since(path: Path, since: float, *, writer: bool = False) -> bool:
    """A reader (or a writer) asked for the file at or after `since` (a `time.time()`)."""
    try:
        return wanted_marker(path, writer).stat().st_mtime >= since
    except OSError:
        return False


def _is_lock(exc: BaseException) -> bool:
    """DuckDB refused the file because another process holds its lock."""
    return "lock" in str(exc).lower()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _plain_columns(contract: Contract) -> set[str]:
    """Columns stored without compression (`Contract.unique_text_key`).

    Unique values gain little from DuckDB's dictionary-plus-FSST compression, and analysing
    them for it was a third of the whole load (docs/performance.md).
    """
    return set(contract.unique_text_key)


def query(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> pa.Table:
    """A query's rows as Arrow; a failure is a `QueryError` with DuckDB's first line."""
    try:
        return duck.table(con, sql, params)
    except duckdb.Error as exc:
        raise QueryError(f"query failed: {str(exc).splitlines()[0]}") from None
