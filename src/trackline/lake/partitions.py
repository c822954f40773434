"""Hive-partitioned Parquet: the one place that names partition folders and writes them.

A folder is `<column>=<value>` with the value percent-encoded, a NULL as
`__HIVE_DEFAULT_PARTITION__`: DuckDB's naming (`folder`), which pyarrow's hive partitioning
shares. Every partitioned write in the lake goes through here:

- `PartitionWriter`: batches that carry their partition values as text columns, written with
  pyarrow on one thread, buffers and open files bounded (the curated sink during a load);
- `export`: a query's rows, through DuckDB's own parallel `COPY ... PARTITION_BY` on a local
  lake (DuckDB names the folders, the same way), through `PartitionWriter` on any other.
"""

from __future__ import annotations

import contextlib
import posixpath
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trackline.core import duck
from trackline.core.dialect import ident, literal
from trackline.core.hashing import HashingWriter
from trackline.lake.store import Lake, StoredFile

NULL_VALUE = "__HIVE_DEFAULT_PARTITION__"  # the folder value of a NULL
# A partition's rows are buffered until they make a row group of this size; all buffers
# together hold at most BUFFERED_ROWS (the largest is written early past that), and at most
# MAX_OPEN_FILES files are open (the least recently used is closed; its partition goes on in
# a new file). Memory stays bounded however the rows are spread over partitions.
ROW_GROUP_ROWS = 64 * 1024
BUFFERED_ROWS = 128 * 1024
MAX_OPEN_FILES = 64
# Past KEEP_OPEN_FILES open files, a file whose partition got no rows in the last IDLE_BATCHES
# batches is closed: an open Parquet writer holds a few MB of encoder state, and rows in
# event-time order leave each day behind for good. Below that count nothing is closed early,
# so a late row for a recent day still joins its file.
IDLE_FLUSH_ROWS = 8 * 1024  # a left-behind partition with this many rows is written at once
KEEP_OPEN_FILES = 8
IDLE_BATCHES = 4
# A column whose first batch holds more distinct values than this share of its rows is
# written without a dictionary (see `_dictionary_columns`).
DICTIONARY_MAX_DISTINCT = 0.5
# Rows per partition and thread DuckDB's COPY buffers before it writes: its default (524288)
# overflows the memory limit once there are a few dozen partitions, and spilling is slow.
COPY_FLUSH_ROWS = 8_192


def folder(columns: list[str], values: tuple[str | None, ...]) -> str:
    """The relative folder of one partition: `col=value/...`, named as DuckDB names it."""
    return "/".join(f"{c}={_escape(v)}" for c, v in zip(columns, values, strict=True))


def _escape(value: str | None) -> str:
    if value is None:
        return NULL_VALUE
    if value == NULL_VALUE:  # the text itself, not a NULL: DuckDB escapes its first character
        return "%5F" + value[1:]
    return quote(value, safe="")


def export(
    con: duckdb.DuckDBPyConnection,
    query: str,
    params: dict[str, Any],
    lake: Lake,
    base: str,
    columns: list[str],
    basename: str,
    *,
    batch_rows: int = 65_536,
) -> list[StoredFile]:
    """Write a query's rows under `base`, partitioned by its text columns `columns`, as files
    named `basename` (`{i}` numbers them); a run writing again replaces its own files."""
    if lake.is_local:
        return _copy(con, query, params, lake, base, columns, basename)
    if columns:  # as text, which names their folders as DuckDB's writer would
        texts = ", ".join(f"CAST({ident(c)} AS VARCHAR) AS {ident(c)}" for c in columns)
        query = f"SELECT * REPLACE ({texts}) FROM ({query})"
    writer = PartitionWriter(lake, base, columns, basename)
    try:
        with duck.stream(con, query, params, batch_rows) as reader:
            for batch in reader:
                writer.add(batch)
    except BaseException:
        writer.abandon()
        raise
    return writer.close()


def _copy(
    con: duckdb.DuckDBPyConnection,
    query: str,
    params: dict[str, Any],
    lake: Lake,
    base: str,
    columns: list[str],
    basename: str,
) -> list[StoredFile]:
    """DuckDB's own parallel writer (a local lake only: it writes the files itself)."""
    pattern = basename.removesuffix(".parquet")
    options = [
        "FORMAT parquet",
        f"FILENAME_PATTERN {literal(pattern)}",
        "OVERWRITE_OR_IGNORE true",
        "RETURN_FILES true",
    ]
    target = base
    if columns:
        options.append(f"PARTITION_BY ({', '.join(ident(c) for c in columns)})")
    else:
        target = f"{base}/{pattern.replace('{i}', '0')}.parquet"
    Path(base).mkdir(parents=True, exist_ok=True)
    con.execute(f"SET partitioned_write_flush_threshold = {COPY_FLUSH_ROWS}")
    try:
        row = con.execute(
            f"COPY ({query}) TO {literal(target)} ({', '.join(options)})", params
        ).fetchone()
    finally:
        con.execute("RESET partitioned_write_flush_threshold")
    paths = sorted(row[1] or []) if columns and row is not None else [target]
    return [lake.stored(p, pq.ParquetFile(p).metadata.num_rows) for p in paths if Path(p).is_file()]


class PartitionWriter:
    """Hive-partitioned Parquet from batches that carry their partition values as columns.

    Written here rather than with pyarrow's dataset writer: that one reads ahead without a
    bound while its files are written, which grew an ingest's peak memory. One thread,
    bounded buffers, the same layout and names as DuckDB's writer.
    """

    def __init__(
        self,
        lake: Lake,
        base: str,
        partitions: list[str],
        basename: str,
        *,
        plain: list[str] | None = None,
    ) -> None:
        self.lake, self.base, self.partitions, self.basename = lake, base, partitions, basename
        self.plain = set(plain or [])  # written without compression (see `_compression`)
        self._schema: pa.Schema | None = None
        self._buffers: dict[tuple[str | None, ...], list[pa.RecordBatch]] = {}
        self._buffered: dict[tuple[str | None, ...], int] = {}
        self._open: OrderedDict[tuple[str | None, ...], _OpenFile] = OrderedDict()
        self._done: list[StoredFile] = []
        self._count = 0
        self._dictionary: list[str] = []
        self._batches = 0
        self._last_seen: dict[tuple[str | None, ...], int] = {}

    @property
    def buffered_rows(self) -> int:
        """Rows held in memory, not yet written."""
        return sum(self._buffered.values())

    @property
    def open_files(self) -> int:
        return len(self._open)

    def add(self, batch: pa.RecordBatch) -> None:
        data = batch.drop_columns(self.partitions) if self.partitions else batch
        if self._schema is None:
            self._schema = data.schema
            self._dictionary = _dictionary_columns(data)
        self._batches += 1
        for key, rows in self._groups(batch, data):
            self._last_seen[key] = self._batches
            self._buffers.setdefault(key, []).append(rows)
            self._buffered[key] = self._buffered.get(key, 0) + rows.num_rows
            if self._buffered[key] >= ROW_GROUP_ROWS:
                self._flush(key)
        # A partition this batch left behind is written now, not at the end of the run, when
        # the other core has little left to do.
        for key in [
            k
            for k, n in self._buffered.items()
            if n >= IDLE_FLUSH_ROWS and self._last_seen.get(k) != self._batches
        ]:
            self._flush(key)
        while self.buffered_rows > BUFFERED_ROWS:
            self._flush(max(self._buffered, key=self._buffered.__getitem__))
        self._close_idle()

    def close(self) -> list[StoredFile]:
        """Write what is buffered and close every file: the files written, by path."""
        for key in list(self._buffers):
            self._flush(key)
        for key in list(self._open):
            self._close_file(key)
        return sorted(self._done, key=lambda f: f.path)

    def abandon(self) -> None:
        """Drop the open files without publishing them (the write failed)."""
        for f in self._open.values():
            with contextlib.suppress(OSError):  # a failing store: the run's own error is raised
                f.writer.close()
            self.lake.discard(f.out)
        self._open.clear()

    def _close_idle(self) -> None:
        """Past `KEEP_OPEN_FILES`, close the files whose partition got no rows in the last
        `IDLE_BATCHES` batches, the longest idle first."""
        if len(self._open) <= KEEP_OPEN_FILES:
            return
        idle = sorted(
            (seen, key)
            for key, seen in self._last_seen.items()
            if key in self._open and self._batches - seen >= IDLE_BATCHES
        )
        for _, key in idle[: len(self._open) - KEEP_OPEN_FILES]:
            self._flush(key)
            self._close_file(key)

    def _groups(
        self, batch: pa.RecordBatch, data: pa.RecordBatch
    ) -> Iterator[tuple[tuple[str | None, ...], pa.RecordBatch]]:
        """The batch's rows per partition, in their order within each partition."""
        if not self.partitions:
            yield (), data
            return
        codes = np.zeros(batch.num_rows, np.int64)
        for name in self.partitions:  # one code per combination of values (mixed radix)
            enc = pc.dictionary_encode(batch.column(name))
            codes = codes * max(len(enc.dictionary), 1) + enc.indices.to_numpy(zero_copy_only=False)
        cuts = np.flatnonzero(codes[1:] != codes[:-1]) + 1
        starts = [0, *cuts.tolist()]
        if len(np.unique(codes[starts])) == len(starts):
            # the common case, rows in event-time order: each partition's rows are one run of
            # the batch, sliced without copying
            ends = [*starts[1:], batch.num_rows]
            for start, end in zip(starts, ends, strict=True):
                yield _key(batch, start, self.partitions), data.slice(start, end - start)
            return
        order = np.argsort(codes, kind="stable")
        taken = data.take(pa.array(order))
        sorted_codes = codes[order]
        starts = [0, *(np.flatnonzero(np.diff(sorted_codes)) + 1).tolist()]
        ends = [*starts[1:], len(order)]
        for start, end in zip(starts, ends, strict=True):
            yield _key(batch, int(order[start]), self.partitions), taken.slice(start, end - start)

    def _flush(self, key: tuple[str | None, ...]) -> None:
        batches = self._buffers.pop(key, [])
        self._buffered.pop(key, None)
        if not batches:
            return
        f = self._open.get(key)
        if f is None:
            f = self._open_file(key)
        else:
            self._open.move_to_end(key)
        table = pa.Table.from_batches(batches)
        f.writer.write_table(table, row_group_size=table.num_rows)
        f.rows += table.num_rows
        del table, batches
        pa.default_memory_pool().release_unused()

    def _open_file(self, key: tuple[str | None, ...]) -> _OpenFile:
        assert self._schema is not None
        if len(self._open) >= MAX_OPEN_FILES:
            self._close_file(next(iter(self._open)))
        path = posixpath.join(
            self.base, folder(self.partitions, key), self.basename.format(i=self._count)
        )
        self._count += 1
        self.lake.fs.makedirs(posixpath.dirname(path), exist_ok=True)
        out = HashingWriter(self.lake.fs.open(path, "wb"))
        writer = pq.ParquetWriter(
            out,
            self._schema,
            use_dictionary=self._dictionary,
            compression=_compression(self._schema, self.plain),
            write_statistics=_statistics(self._schema, self.plain),
        )
        f = _OpenFile(path, out, writer)
        self._open[key] = f
        return f

    def _close_file(self, key: tuple[str | None, ...]) -> None:
        f = self._open.pop(key)
        self._last_seen.pop(key, None)
        f.writer.close()
        f.out.close()
        self._done.append(StoredFile(f.path, f.rows, f.out.size, f.out.digest.hexdigest()))


@dataclass
class _OpenFile:
    path: str
    out: Any
    writer: pq.ParquetWriter
    rows: int = 0


def _dictionary_columns(sample: pa.RecordBatch) -> list[str]:
    """Columns worth dictionary encoding: those whose values repeat in the first batch.

    For a column of (nearly) distinct values, such as an event id or a timestamp, Parquet's
    dictionary encoder hashes every value of a page before it gives up, for nothing.
    """
    n = sample.num_rows
    if not n:
        return list(sample.schema.names)
    return [
        name
        for name, col in zip(sample.schema.names, sample.columns, strict=True)
        if pc.count_distinct(col, mode="all").as_py() <= DICTIONARY_MAX_DISTINCT * n
    ]


def _compression(schema: pa.Schema, plain: set[str]) -> str | dict[str, str]:
    """Snappy for every column but the plain ones (`Contract.unique_text_key`): random ids
    hardly compress, and compressing them costs a good share of the writer's time."""
    if not plain & set(schema.names):
        return "snappy"
    return {name: "none" if name in plain else "snappy" for name in schema.names}


def _statistics(schema: pa.Schema, plain: set[str]) -> bool | list[str]:
    """Min/max statistics for every column but the plain ones: the bounds of random ids
    prune nothing."""
    if not plain & set(schema.names):
        return True
    return [name for name in schema.names if name not in plain]


def _key(batch: pa.RecordBatch, row: int, partitions: list[str]) -> tuple[str | None, ...]:
    values = (batch.column(p)[row].as_py() for p in partitions)
    return tuple(v if v is None or isinstance(v, str) else str(v) for v in values)
