"""Curated Parquet written from the checked rows while they stream into the warehouse.

Exporting a run's rows back out of the warehouse table after the load cost a second scan, a
sort by partition and DuckDB's row-format shuffle: 1.5-2.1 CPU-seconds per million events, as
much as the load itself. The rows the load keeps are already in Arrow on their way to the
table, so this sink writes them with pyarrow on its own thread instead (0.7-1 CPU-seconds,
beside the load).

The files are exact only if the rows kept on the way are the rows the load added. The engine
checks that after the load (`LocalEngine._commit`) and otherwise removes these files and
exports from the table as before, so the lake and the warehouse never disagree about a run.
"""

from __future__ import annotations

import logging
import posixpath
import queue
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trackline.core.hashing import HashingWriter
from trackline.lake import Lake, StoredFile

log = logging.getLogger("trackline.engine")

# A partition value that names its folder the same way in DuckDB's and pyarrow's writers
# (neither escapes these characters); anything else goes the table route, which DuckDB names.
SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.-]+$")
# A partition's rows are buffered until they make a row group of this size; all buffers
# together hold at most BUFFERED_ROWS (the largest is written early past that), and at most
# MAX_OPEN_FILES files are open (the least recently used is closed; its partition goes on in
# a new file). Memory stays bounded however the rows are spread over partitions.
ROW_GROUP_ROWS = 64 * 1024
BUFFERED_ROWS = 128 * 1024
MAX_OPEN_FILES = 64
# Past KEEP_OPEN_FILES open files, a file whose partition got no rows in the last IDLE_BATCHES
# batches is closed: an open Parquet writer holds a few MB of encoder state, and rows in
# event-time order leave each day behind for good (at 5M events, a month of day files left
# open held 130 MB until the end, and peak RSS grew +25% from 1M events). Below that count
# nothing is closed early, so a late row for a recent day still joins its file; past it, a
# late row for a closed partition starts a new file, as after an LRU close.
IDLE_FLUSH_ROWS = 8 * 1024  # a left-behind partition with this many rows is written at once
KEEP_OPEN_FILES = 8
IDLE_BATCHES = 4
# A column whose first batch holds more distinct values than this share of its rows is
# written without a dictionary (see `_dictionary_columns`).
DICTIONARY_MAX_DISTINCT = 0.5
_END = object()
_PARTITION_TYPE = pa.dictionary(pa.int32(), pa.string())  # see `_label`
# The days Python's `date` names (DuckDB's DATE reaches far wider), as days since the epoch.
_MIN_DAY = (date.min - date(1970, 1, 1)).days
_MAX_DAY = (date.max - date(1970, 1, 1)).days


def partition_alias(i: int) -> str:
    """Name of the stream column holding the i-th partition value."""
    return f"_part_{i}"


class CuratedSink:
    """Writes kept rows, partitioned, to the curated lake on a background thread.

    `open` once the table's shape is known; `write` each checked batch with its keep mask
    (cheap: the filtering and encoding happen on the writer thread); `finish` returns the
    files. `usable` turns false if a batch holds a partition value the sink will not name
    (NULL or a character outside `SAFE_VALUE`): the engine then exports from the table.
    """

    def __init__(
        self,
        writer: PartitionWriter,
        *,
        run_id: str,
        ingestion_time: datetime,
        depth: int = 2,
    ) -> None:
        self.writer = writer  # used on the sink's own thread only, once `open` started it
        self.lake, self.partitions = writer.lake, writer.partitions
        self.run_id, self.ingestion_time = run_id, ingestion_time
        self.usable = True
        self.files: list[StoredFile] = []
        self._schema: pa.Schema | None = None
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._wanted: set[str] = set()
        self._constants: dict[str, pa.Array] = {}

    # Producer side (the load's thread) ---------------------------------------------------
    def open(self, table_schema: pa.Schema) -> None:
        """Start writing files shaped like the table's rows (lineage left out)."""
        if self._thread is not None or not self.usable:
            return
        if set(self.partitions) & set(table_schema.names):
            # a partition on a column itself (identity): DuckDB's writer names it, as before
            self.usable = False
            return
        fields = [*table_schema, *(pa.field(p, _PARTITION_TYPE) for p in self.partitions)]
        self._schema = pa.schema(fields)
        self._wanted = {
            *table_schema.names,
            *(partition_alias(i) for i in range(len(self.partitions))),
        }
        self._thread = threading.Thread(target=self._run, name="trackline-curated", daemon=True)
        self._thread.start()

    def write(self, batch: pa.RecordBatch, keep: pa.Array) -> None:
        if not self.usable or self._thread is None:
            return
        while not self._stop.is_set():
            try:
                self._queue.put((batch, keep), timeout=0.1)
                return
            except queue.Full:
                continue

    def finish(self) -> list[StoredFile]:
        """Wait for the writer; the files it wrote (raises what it raised)."""
        self._close()
        if self._error is not None:
            raise self._error
        return self.files

    def abort(self) -> None:
        """Stop the writer without waiting for its result (the run is failing)."""
        self._stop.set()
        self._close()

    def discard(self) -> None:
        """Remove the files written: the table route replaces them."""
        for f in self.files:
            self.lake.remove(f.path)
        self.files = []

    def _close(self) -> None:
        if self._thread is None:
            return
        while self._thread.is_alive():
            try:
                self._queue.put(_END, timeout=0.1)
                break
            except queue.Full:
                continue
        self._thread.join()
        self._thread = None

    # Writer side (its own thread) --------------------------------------------------------
    def _run(self) -> None:
        assert self._schema is not None
        writer = self.writer
        try:
            for batch in self._batches():
                writer.add(batch)
            self.files = writer.close()
        except BaseException as exc:  # handed to `finish`
            self._error = exc
            self._stop.set()
            writer.abandon()

    def _batches(self) -> Iterator[pa.RecordBatch]:
        while True:
            item = self._queue.get()
            if item is _END or self._stop.is_set():
                return
            assert isinstance(item, tuple)
            batch: pa.RecordBatch = item[0]
            keep: pa.Array = item[1]
            if not self.usable:
                continue  # drain: the engine will not use these files
            # only the columns the files hold are filtered (not the rejected rows' text)
            wanted = [n for n in batch.schema.names if n in self._wanted]
            out = self._shape(batch.select(wanted).filter(keep))
            if out is not None and out.num_rows:
                yield out

    def _shape(self, rows: pa.RecordBatch) -> pa.RecordBatch | None:
        """The kept rows as the table holds them: its columns and types, this run's
        `run_id` and `ingestion_time`, then the partition values."""
        assert self._schema is not None
        n = rows.num_rows
        names = set(rows.schema.names)
        arrays: list[Any] = []
        for f in self._schema:
            if f.name in self.partitions:
                col = _label(rows.column(partition_alias(self.partitions.index(f.name))))
                if col is None or not _safe(col):
                    self.usable = False
                    log.info("curated.table_route reason=partition value %s", f.name)
                    return None
                arrays.append(col)
            elif f.name == "run_id":
                arrays.append(self._constant(f, self.run_id, n))
            elif f.name == "ingestion_time":
                arrays.append(self._constant(f, self.ingestion_time, n))
            elif f.name in names:
                col = rows.column(f.name)
                arrays.append(col if col.type == f.type else pc.cast(col, f.type))
            else:  # a column an older contract version had: NULL in this run's rows
                arrays.append(pa.nulls(n, f.type))
        return pa.RecordBatch.from_arrays(arrays, schema=self._schema)

    def _constant(self, f: pa.Field, value: Any, n: int) -> pa.Array:
        """`n` copies of a run's constant, sliced from one array made once (not per batch)."""
        made = self._constants.get(f.name)
        if made is None or len(made) < n:
            made = self._constants[f.name] = pa.repeat(pa.scalar(value, f.type), n)
        return made.slice(0, n)


def _label(values: pa.Array) -> pa.DictionaryArray | None:
    """Partition values as the folder names' text, dictionary-encoded (a batch holds a few
    values: each is named and checked once, not once a row): a day (DATE) as YYYY-MM-DD, as
    DuckDB writes it; None for a day Python's dates cannot name (the table route names it)."""
    if not pa.types.is_date32(values.type):
        return pc.dictionary_encode(values.cast(pa.string()))
    if values.null_count:
        return None
    days = pc.dictionary_encode(values)
    bounds = pc.min_max(days.dictionary.cast(pa.int32()))
    lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
    if lo is not None and not _MIN_DAY <= lo <= hi <= _MAX_DAY:
        return None
    names = pa.array([d.isoformat() for d in days.dictionary.to_pylist()], pa.string())
    return pa.DictionaryArray.from_arrays(days.indices, names)


def _safe(values: pa.DictionaryArray) -> bool:
    if values.null_count:
        return False
    return all(SAFE_VALUE.match(v) for v in values.dictionary.to_pylist())


class PartitionWriter:
    """Hive-partitioned Parquet from batches that carry their partition values as columns.

    Written here rather than with pyarrow's dataset writer: that one reads ahead without a
    bound while its files are written, and in an ingest (two busy cores) its queue grew peak
    memory by a fifth at 5M events. One thread, bounded buffers, the same layout and names.
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
        self._buffers: dict[tuple[str, ...], list[pa.RecordBatch]] = {}
        self._buffered: dict[tuple[str, ...], int] = {}
        self._open: OrderedDict[tuple[str, ...], _OpenFile] = OrderedDict()
        self._done: list[StoredFile] = []
        self._count = 0
        self._dictionary: list[str] = []
        self._batches = 0
        self._last_seen: dict[tuple[str, ...], int] = {}

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
        # A partition this batch left behind (rows in event-time order leave each day behind
        # for good) is written now, not when the buffers are full or the run ends: the
        # writer's work at the end of a run, when the other core has little left, shrinks
        # from up to `BUFFERED_ROWS` rows to the last partitions'.
        for key in [
            k
            for k, n in self._buffered.items()
            if n >= IDLE_FLUSH_ROWS and self._last_seen.get(k) != self._batches
        ]:
            self._flush(key)
        while sum(self._buffered.values()) > BUFFERED_ROWS:
            self._flush(max(self._buffered, key=self._buffered.__getitem__))
        self._close_idle()

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

    def close(self) -> list[StoredFile]:
        for key in list(self._buffers):
            self._flush(key)
        for key in list(self._open):
            self._close_file(key)
        return sorted(self._done, key=lambda f: f.path)

    def abandon(self) -> None:
        for f in self._open.values():
            f.writer.close()
            f.out.close()
        self._open.clear()

    def _groups(
        self, batch: pa.RecordBatch, data: pa.RecordBatch
    ) -> Iterator[tuple[tuple[str, ...], pa.RecordBatch]]:
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
            # the common case: rows arrive in event-time order, so each partition's rows are
            # one run of the batch, sliced without copying
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

    def _flush(self, key: tuple[str, ...]) -> None:
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

    def _open_file(self, key: tuple[str, ...]) -> _OpenFile:
        assert self._schema is not None
        if len(self._open) >= MAX_OPEN_FILES:
            self._close_file(next(iter(self._open)))
        folder = "/".join(f"{p}={v}" for p, v in zip(self.partitions, key, strict=True))
        path = posixpath.join(self.base, folder, self.basename.format(i=self._count))
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

    def _close_file(self, key: tuple[str, ...]) -> None:
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
    dictionary encoder hashes every value of a page before it gives up and falls back to plain
    encoding: a fifth of the writer's time at 1M listening events, for nothing.
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
    """Snappy for every column but the plain ones (`Contract.unique_text_key`).

    Snappy on a million UUIDs cost 0.12-0.15 CPU-seconds of the writer's 0.53 to save 4 MB of
    76 (the whole run's files: 66.8 MB instead of 62.7).
    """
    if not plain & set(schema.names):
        return "snappy"
    return {name: "none" if name in plain else "snappy" for name in schema.names}


def _statistics(schema: pa.Schema, plain: set[str]) -> bool | list[str]:
    """Min/max statistics for every column but the plain ones: the bounds of random ids
    prune nothing, and computing them cost a tenth of the writer's time."""
    if not plain & set(schema.names):
        return True
    return [name for name in schema.names if name not in plain]


def _key(batch: pa.RecordBatch, row: int, partitions: list[str]) -> tuple[str, ...]:
    return tuple(str(batch.column(p)[row].as_py()) for p in partitions)
