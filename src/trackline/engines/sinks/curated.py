"""The curated lake: the rows a run kept, Hive-partitioned Parquet under `curated/<dataset>/`.

Two routes to the same layout (`trackline.lake.partitions` names the folders for both):

- on the way (`CuratedSink`): the rows the load keeps are already in Arrow on their way to the
  table, so a writer thread of their own writes them beside the load, instead of a second scan
  of the table, a sort by partition and DuckDB's row-format shuffle after it;
- the table route (`CuratedSink.export`): the files are exact only if the rows kept on the way
  are the rows the load added, and every partition value is one both writers name the same.
  Otherwise the files written on the way are removed and the run's rows exported from the
  table, so the lake and the warehouse never disagree about a run.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from trackline.contracts.spec import Contract
from trackline.core.dialect import ident
from trackline.lake import Lake, StoredFile
from trackline.lake import partitions as lake_partitions
from trackline.lake.partitions import PartitionWriter

log = logging.getLogger("trackline.engine")

LINEAGE = ["_source_file", "_source_line"]  # in the table, not in the curated files
# A partition value whose folder reads the same however a writer escapes it; anything else
# goes the table route.
SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.-]+$")
_END = object()
_PARTITION_TYPE = pa.dictionary(pa.int32(), pa.string())  # see `label`
_DAY_US = 86_400_000_000  # microseconds a day
# The days Python's `date` names (DuckDB's DATE reaches far wider), as days since the epoch.
_MIN_DAY = (date.min - date(1970, 1, 1)).days
_MAX_DAY = (date.max - date(1970, 1, 1)).days


def partition_alias(i: int) -> str:
    """Name of the checked stream's column holding the i-th partition value."""
    return f"_part_{i}"


def partition_exprs(contract: Contract, *, in_stream: bool = False) -> list[str]:
    """SQL for the Hive partition values of a contract's curated files.

    In the checked stream (`in_stream`) every partition gets a value, unnamed (the check stage
    names it `partition_alias(i)`), and a day is a DATE counted from the epoch in whole
    microseconds (cheaper than a cast through the time zone to text; `label` names it). A day
    out of the DATE range comes out NULL, which sends the run the table route. Otherwise the
    values are text named as their folders, an identity partition being its column itself.
    """
    exprs = []
    for p in contract.partitions:
        col = ident(p.field)
        if p.transform == "identity" and not in_stream:
            continue  # the column itself (a second one of the same name would be renamed)
        if p.transform == "day" and in_stream:
            us = f"epoch_us({col})"
            days = f"{us} // {_DAY_US} - CASE WHEN {us} % {_DAY_US} < 0 THEN 1 ELSE 0 END"
            expr = f"DATE '1970-01-01' + TRY_CAST({days} AS INTEGER)"
        elif p.transform == "day":  # the same text as strftime '%Y-%m-%d', at half the cost
            expr = f"CAST(CAST({col} AS DATE) AS VARCHAR)"
        elif p.transform == "month":
            expr = f"strftime({col}, '%Y-%m')"
        else:
            expr = f"CAST({col} AS VARCHAR)"
        exprs.append(expr if in_stream else f"{expr} AS {ident(p.column)}")
    return exprs


class CuratedSink:
    """A `Sink` writing kept rows, partitioned, to the curated lake on a background thread.

    `open` once the table's shape is known; `write` each checked batch with its `_keep`
    column (cheap: the filtering and encoding happen on the writer thread); `finish` returns
    the files. `usable` turns false if a batch holds a partition value the sink will not name
    (NULL or a character outside `SAFE_VALUE`): the run then takes the table route (`export`).
    """

    def __init__(
        self,
        lake: Lake,
        contract: Contract,
        *,
        run_id: str,
        ingestion_time: datetime,
        depth: int = 2,
    ) -> None:
        self.lake, self.contract = lake, contract
        self.base = lake.path("curated", contract.name)
        self.basename = f"part-{run_id}-{{i}}.parquet"
        self.partitions = [p.column for p in contract.partitions]
        self.run_id, self.ingestion_time = run_id, ingestion_time
        self.usable = True
        self.files: list[StoredFile] = []
        self._writer = PartitionWriter(  # used on the sink's own thread only
            lake, self.base, self.partitions, self.basename, plain=contract.unique_text_key
        )
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
            # a partition on a column itself (identity): DuckDB's writer names it
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

    def write(self, rows: pa.RecordBatch, source: str) -> None:
        if not self.usable or self._thread is None:
            return
        while not self._stop.is_set():
            try:
                self._queue.put(rows, timeout=0.1)
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
        """Remove the files written (the table route replaces them, or the run is read again)."""
        for f in self.files:
            self.lake.remove(f.path)
        self.files = []

    def export(
        self, con: duckdb.DuckDBPyConnection, table: str, *, batch_rows: int
    ) -> list[StoredFile]:
        """The table route: the files written on the way removed, the run's rows in `table`
        exported instead."""
        log.info("curated.table_route run_id=%s", self.run_id)
        self.discard()
        select = ", ".join([f"* EXCLUDE ({', '.join(LINEAGE)})", *partition_exprs(self.contract)])
        return lake_partitions.export(
            con,
            f"SELECT {select} FROM {table} WHERE run_id = $run_id",
            {"run_id": self.run_id},
            self.lake,
            self.base,
            self.partitions,
            self.basename,
            batch_rows=batch_rows,
        )

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
        writer = self._writer
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
            assert isinstance(item, pa.RecordBatch)
            if not self.usable:
                continue  # drain: the run will not use these files
            # only the columns the files hold are filtered (not the rejected rows' text)
            wanted = [n for n in item.schema.names if n in self._wanted]
            out = self._shape(item.select(wanted).filter(item.column("_keep")))
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
                col = label(rows.column(partition_alias(self.partitions.index(f.name))))
                if col is None or not nameable(col):
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


def label(values: pa.Array) -> pa.DictionaryArray | None:
    """Partition values as their folders' text, dictionary-encoded (a batch holds a few
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


def nameable(values: pa.DictionaryArray) -> bool:
    """Whether the sink names every value's folder itself (no NULL, only `SAFE_VALUE`s)."""
    if values.null_count:
        return False
    return all(SAFE_VALUE.match(v) for v in values.dictionary.to_pylist())
