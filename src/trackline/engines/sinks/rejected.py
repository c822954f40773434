"""Rejected rows: to their Parquet file in the lake as they are found, then into `meta.rejected`.

Each row keeps its text as received, its reasons and detail, and where it came from (source and
line), in `REJECTED_SCHEMA`; the sink counts the rows per reason for the run's counts.
"""

from __future__ import annotations

import posixpath
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from trackline.contracts.kernel import REJECTED_SCHEMA, count_reasons
from trackline.lake import Lake, StoredFile
from trackline.sources.readers.ndjson_fast import GLOB_CHARS

# A `meta.rejected` row from rejected rows in `REJECTED_SCHEMA` (`{rows}`), of `{dataset}`.
_INSERT = (
    "INSERT INTO meta.rejected SELECT $run_id, {dataset}, record, reasons, detail, "
    "source_file, source_line, $now FROM {rows}"
)


class RejectedRows:
    """A `Sink` for checked rows that failed their contract (the kernel's `_record`,
    `_errors`, `_detail` and `_source_line` columns), written to one Parquet file."""

    def __init__(self, lake: Lake, path: str) -> None:
        self.lake, self.path = lake, path
        self.rows = 0
        self.reasons: dict[str, int] = {}
        self.lake.fs.makedirs(posixpath.dirname(path), exist_ok=True)
        self._out: Any = self.lake.fs.open(path, "wb")
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(self._out, REJECTED_SCHEMA)

    def write(self, rows: pa.RecordBatch, source: str) -> None:
        assert self._writer is not None, "written after finish"
        batch = pa.RecordBatch.from_arrays(
            [
                rows.column("_record"),
                rows.column("_errors"),
                rows.column("_detail"),
                pa.repeat(pa.scalar(source, pa.string()), rows.num_rows),
                rows.column("_source_line"),
            ],
            schema=REJECTED_SCHEMA,
        )
        self._writer.write_batch(batch)
        self.rows += batch.num_rows
        for reason, n in count_reasons(batch.column("reasons")).items():
            self.reasons[reason] = self.reasons.get(reason, 0) + n

    def by_reason(self) -> dict[str, int]:
        """Rows per reason, the most frequent first."""
        return dict(sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0])))

    def finish(self) -> list[StoredFile]:
        self._close()
        return [self.lake.stored(self.path, self.rows)]

    def abort(self) -> None:
        self._close()

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            self._out.close()


def into_meta(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    stored: StoredFile,
    *,
    run_id: str,
    dataset: str,
    now: datetime,
    batch_rows: int,
) -> None:
    """Copy a run's rejected rows from their Parquet file into `meta.rejected`.

    DuckDB reads a local file itself, on all its threads; a path it would take for a glob,
    or a remote lake, streams through pyarrow.
    """
    insert = _INSERT.format(dataset="$dataset", rows="{rows}")
    params = {"run_id": run_id, "dataset": dataset, "now": now}
    if lake.is_local and not GLOB_CHARS & set(stored.path):
        con.execute(insert.format(rows="read_parquet($path)"), {**params, "path": stored.path})
        return
    with lake.fs.open(stored.path, "rb") as fh:
        pf = pq.ParquetFile(fh)
        rows = pa.RecordBatchReader.from_batches(pf.schema_arrow, pf.iter_batches(batch_rows))
        con.register("rejected_rows", rows)
        try:
            con.execute(insert.format(rows="rejected_rows"), params)
        finally:
            con.unregister("rejected_rows")


class RejectedTable:
    """A `Sink` for rejected rows straight into `meta.rejected`, in the caller's transaction
    (the stream's micro-batches): rows in `REJECTED_SCHEMA` with their `dataset`. A source
    already there for its dataset (a redelivered message) is not added again."""

    def __init__(self, con: duckdb.DuckDBPyConnection, *, run_id: str, now: datetime) -> None:
        self.con, self.run_id = con, run_id
        self.now = now  # the rows' `rejected_at` (a stream sets it for each micro-batch)

    def write(self, rows: pa.RecordBatch | pa.Table, source: str = "") -> None:
        insert = _INSERT.format(dataset="dataset", rows="rejected_rows r")
        self.con.register("rejected_rows", rows)
        try:
            self.con.execute(
                f"{insert} WHERE NOT EXISTS (SELECT 1 FROM meta.rejected m "
                "WHERE m.source_file = r.source_file AND m.dataset = r.dataset)",
                {"run_id": self.run_id, "now": self.now},
            )
        finally:
            self.con.unregister("rejected_rows")

    def finish(self) -> list[StoredFile]:
        return []  # the rows commit with the caller's transaction

    def abort(self) -> None:
        """Nothing to undo here: the caller rolls its transaction back."""
