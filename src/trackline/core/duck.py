"""DuckDB connections and Arrow results, in one place.

DuckDB's Python API renamed its Arrow fetchers between releases (`fetch_arrow_table` ->
`to_arrow_table`); everything goes through these helpers so the rest of the code does not care.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from trackline.core.dialect import literal

# Set once for the process (not per call: warning filters are global, kernels run in threads).
warnings.filterwarnings(
    "ignore", message="Arrow output on a DB-API result makes an extra copy", category=UserWarning
)


#: DuckDB settings of a locked-down connection. External access off stops file readers
#: (read_text, read_blob, glob, read_csv...), COPY/EXPORT/import_database, ATTACH of files, URLs
#: and INSTALL/LOAD; no known extension is loaded or fetched on demand behind a query's back.
LOCKED: dict[str, Any] = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "allow_persistent_secrets": False,
}


def connect(
    path: str | Path = ":memory:",
    *,
    threads: int | None = None,
    memory_limit: str | None = None,
    read_only: bool = False,
    temp_directory: str | Path | None = None,
    locked: bool = False,
) -> duckdb.DuckDBPyConnection:
    """A connection in UTC with the given limits.

    DuckDB's own progress bar is off: it prints to stdout, where it would break `--json`
    output and logs (trackline reports progress itself).

    `locked` is for SQL a user wrote (`trackline query`, anything reading the warehouse on a
    user's behalf): only the database file itself can be read (no other file, URL, extension
    or secret), and no statement can change that, since the configuration is then locked.
    """
    config: dict[str, Any] = dict(LOCKED) if locked else {}
    if threads:
        config["threads"] = threads
    if memory_limit:
        config["memory_limit"] = memory_limit
    if temp_directory is not None:
        config["temp_directory"] = str(temp_directory)
    con = duckdb.connect(str(path), read_only=read_only, config=config)
    try:
        con.execute("SET TimeZone = 'UTC'")  # ICU is linked in but cannot be set from config
        con.execute("SET enable_progress_bar = false")  # a session option, not a config one
    except duckdb.InvalidInputException as exc:
        # A second locked opening of a file this process holds open already is a connection
        # to the same database instance, set up (UTC) and locked by the first one.
        if not (locked and "locked" in str(exc)):
            raise
        return con
    if locked:
        con.execute("SET lock_configuration = true")  # last: nothing can be changed after it
    return con


def table(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> pa.Table:
    """Run a query and fetch the whole result as an Arrow table."""
    rel = con.sql(sql, params=params)
    if rel is None:
        return pa.table({})
    fetch = getattr(rel, "to_arrow_table", None) or rel.fetch_arrow_table
    out = fetch()
    return out.read_all() if isinstance(out, pa.RecordBatchReader) else out


def fetch_table(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> pa.Table:
    """Like `table`, for a query run many times on small inputs (the validation kernel).

    `con.sql(...)` binds a query twice (once to build the relation, once to run it), and a
    big query's planning is most of its cost on a few thousand rows; `execute` binds once.
    DuckDB warns that Arrow output from `execute` copies the rows: that copy costs far less
    than the second bind here, so the warning is silenced (see the filter at import).
    """
    cur = con.execute(sql, params or {})
    fetch = getattr(cur, "to_arrow_table", None)
    out = fetch() if fetch is not None else cur.fetch_arrow_table()  # type: ignore[attr-defined]
    return out.read_all() if isinstance(out, pa.RecordBatchReader) else out


@contextmanager
def stream(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: dict[str, Any] | None = None,
    batch_rows: int = 65_536,
    *,
    types: dict[str, str] | None = None,
) -> Iterator[pa.RecordBatchReader]:
    """Stream a query's result as Arrow batches (bounded memory).

    With `types`, it is filled with each result column's DuckDB type, read off the query as it
    is planned: asking DuckDB to describe a big query first would bind it once more.

    The stream is closed on the way out, even on error: DuckDB refuses further statements on a
    connection while a result is still open.
    """
    rel = con.sql(sql, params=params)
    if types is not None:
        types.update((name, str(t)) for name, t in zip(rel.columns, rel.types, strict=True))
    fetch = getattr(rel, "to_arrow_reader", None) or rel.fetch_record_batch
    reader: pa.RecordBatchReader = fetch(batch_rows)
    try:
        yield reader
    finally:
        reader.close()


_UNITS = {"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}


def memory_limit(con: duckdb.DuckDBPyConnection) -> tuple[str, int]:
    """The connection's memory limit as DuckDB shows it (e.g. '488.2 MiB') and in bytes."""
    # fetchall, not fetchone: a result left unfinished blocks the connection's next query
    rows = con.execute("SELECT current_setting('memory_limit')").fetchall()
    shown = str(rows[0][0] if rows else "")
    number, _, unit = shown.partition(" ")
    try:
        return shown, int(float(number) * _UNITS[unit])
    except (KeyError, ValueError):
        raise ValueError(f"unexpected DuckDB memory limit {shown!r}") from None


@contextmanager
def memory_share(con: duckdb.DuckDBPyConnection, limit: str, fraction: float) -> Iterator[None]:
    """Run a step under `fraction` of the memory limit `limit` (e.g. '512MB'), then set
    `limit` back.

    DuckDB keeps every table block it writes or reads cached up to its limit. A streaming
    step never reads those blocks again, so the cache only makes peak memory grow with the
    input; a smaller limit for the step makes DuckDB drop them instead (they are on disk).
    """
    con.execute(f"SET memory_limit = {literal(limit)}")
    _, total = memory_limit(con)
    share = max(int(total * fraction), min(total, 64 << 20))  # never above `limit` itself
    con.execute(f"SET memory_limit = '{share}B'")
    try:
        yield
    finally:
        con.execute(f"SET memory_limit = {literal(limit)}")
