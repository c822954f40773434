"""The batch pipeline's steps as DoFns, each over Arrow batches, never one row at a time.

- `ReadFile`: one input (or a byte range of a big NDJSON file, `ranges.py`) through its
  format's reader (`sources.readers`), as batches that keep
  `_source_file`, `_source_line` and `_malformed` (a malformed record is a row, never an error);
- `CheckBatch`: the contract's kernel (`contracts.kernel`) in one in-process DuckDB per DoFn
  instance, made in `setup`; valid rows go to their key bucket, rejected rows to their output,
  and Beam counters count rows per reason;
- `FirstPerKey`: a bucket's keys, each once: the first row by input file, then line (the local
  rule), with `_copies`, how many valid rows had that key (only keys, file and line travel
  through the GroupByKey; the valid rows are staged where they were checked);
- `WriteStaged`: each element as one Parquet file in the run's staging folder; the file's URI
  is the output, so only files of committed bundles are ever read (a retried bundle's
  leftovers are not listed).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import apache_beam
import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trackline.contracts.kernel import REJECTED_SCHEMA, Kernel, count_reasons, new_connection
from trackline.contracts.spec import Contract
from trackline.core import duck
from trackline.core.dialect import ident
from trackline.engines.beam.ranges import read_range
from trackline.lake.store import storage_options
from trackline.sources.files import read_batches

beam: Any = apache_beam  # untyped: one Any, not an ignore per call

NAMESPACE = "trackline"
FILE_INDEX = "_file"  # the input's position in the run's inputs (the dedup order: file, line)
COPIES = "_copies"  # valid rows of the input that had this row's key
KEY_HASH = "_key_hash"


def counter(name: str) -> Any:
    return beam.metrics.Metrics.counter(NAMESPACE, name)


class ReadFile(beam.DoFn):  # type: ignore[misc]
    """(index, InputFile, start, end, newlines) -> (index, batch) for each batch of the file,
    or of its byte range (`ranges.py`) when `end` is given (`newlines`: before it, if known)."""

    def __init__(self, batch_rows: int) -> None:
        self.batch_rows = batch_rows
        self.rows = counter("input")

    def process(self, item: Any) -> Iterator[tuple[int, pa.RecordBatch]]:
        index, f, start, end, newlines = item  # (int, InputFile, int, int | None, int | None)
        storage_options(f.uri)  # a worker process reads gs:// as the driver does
        batches = (
            read_batches(f, self.batch_rows)
            if end is None
            else read_range(f, start, end, self.batch_rows, newlines)
        )
        for batch in batches:
            if batch.num_rows:
                self.rows.inc(batch.num_rows)
                yield index, batch


class CheckBatch(beam.DoFn):  # type: ignore[misc]
    """(index, batch) -> (bucket, the valid rows' keys with `_file` and `_source_line`) per
    key bucket; the valid rows whole on the output tagged `valid`, the rejected rows
    (`REJECTED_SCHEMA` plus `_file`) on `rejected`. Only the keys travel to the dedup."""

    def __init__(
        self,
        contract: Contract,
        *,
        now: datetime,
        tolerance: int,
        buckets: int,
        threads: int | None,
    ) -> None:
        self.contract, self.now, self.tolerance = contract, now, tolerance
        self.buckets, self.threads = buckets, threads
        self.kernel: Kernel | None = None
        self.checked = counter("checked")
        self.valid = counter("valid_before_dedup")
        self.rejected = counter("rejected")
        self.reasons: dict[str, Any] = {}

    def setup(self) -> None:
        self.kernel = Kernel(
            self.contract, future_tolerance_seconds=self.tolerance, threads=self.threads
        )
        self.kernel.connection  # noqa: B018 (made once here, never per element)

    def teardown(self) -> None:
        if self.kernel is not None:
            self.kernel.close()

    def process(self, item: tuple[int, pa.RecordBatch]) -> Iterator[Any]:
        assert self.kernel is not None
        index, batch = item
        c = self.contract
        program = self.kernel.compile(batch.schema)
        key = ", ".join(ident(k) for k in c.key_columns)
        con = self.kernel.connection
        con.register("input", batch)
        try:
            sql = f"SELECT *, hash({key}) AS {KEY_HASH} FROM ({program.sql})"
            out = duck.fetch_table(con, sql, {"now": self.now})
        finally:
            con.unregister("input")
        self.checked.inc(out.num_rows)
        ok = pc.fill_null(pc.equal(pc.list_value_length(out["_errors"]), 0), False)
        files = pa.repeat(pa.scalar(index, pa.int32()), out.num_rows)
        out = out.append_column(FILE_INDEX, files)
        bad = out.filter(pc.invert(ok))
        if bad.num_rows:
            rejected = pa.table(
                [bad[n] for n in ("_record", "_errors", "_detail", "_source_file", "_source_line")]
                + [bad[FILE_INDEX]],
                schema=REJECTED_SCHEMA.append(pa.field(FILE_INDEX, pa.int32())),
            )
            self.rejected.inc(bad.num_rows)
            for reason, n in count_reasons(rejected["reasons"]).items():
                self._reason(reason).inc(n)
            yield beam.pvalue.TaggedOutput("rejected", rejected)
        good = out.filter(ok)
        if not good.num_rows:
            return
        self.valid.inc(good.num_rows)
        lineage = ["_source_file", "_source_line", FILE_INDEX]
        yield beam.pvalue.TaggedOutput("valid", good.select([*c.output_columns, *lineage]))
        keys = good.select([*c.key_columns, FILE_INDEX, "_source_line"])
        hashes = good[KEY_HASH].to_numpy()
        buckets = (hashes % np.uint64(self.buckets)).astype(np.int64)
        for b in np.unique(buckets):
            yield int(b), keys.filter(pa.array(buckets == b))

    def _reason(self, reason: str) -> Any:
        made = self.reasons.get(reason)
        if made is None:
            made = self.reasons[reason] = counter(f"rejected:{reason}")
        return made


class FirstPerKey(beam.DoFn):  # type: ignore[misc]
    """(bucket, keys with file and line) -> the first row of each key by file and line (the
    local rule), as (`_file`, `_source_line`, `_copies`: the key's valid rows in the input);
    a key's every copy is in one bucket (the bucket is its key hash's)."""

    def __init__(self, key_columns: list[str], threads: int | None) -> None:
        self.key_columns, self.threads = key_columns, threads
        self.con: Any = None
        self.kept = counter("valid_in_run")
        self.repeats = counter("duplicates_in_run")

    def setup(self) -> None:
        self.con = new_connection(self.threads)

    def teardown(self) -> None:
        if self.con is not None:
            self.con.close()

    def process(self, item: tuple[int, Iterable[pa.Table]]) -> Iterator[pa.Table]:
        _, tables = item
        rows = pa.concat_tables(list(tables), promote_options="permissive")
        key = ", ".join(ident(k) for k in self.key_columns)
        self.con.register("bucket_rows", rows)
        try:
            first = duck.fetch_table(
                self.con,
                f"SELECT {FILE_INDEX}, _source_line, {COPIES} FROM (SELECT {FILE_INDEX}, "
                f"_source_line, count(*) OVER (PARTITION BY {key}) AS {COPIES}, "
                f"row_number() OVER (PARTITION BY {key} ORDER BY {FILE_INDEX}, _source_line) "
                f"AS _rank FROM bucket_rows) WHERE _rank = 1",
            )
        finally:
            self.con.unregister("bucket_rows")
        self.kept.inc(first.num_rows)
        self.repeats.inc(rows.num_rows - first.num_rows)
        yield first


class WriteStaged(beam.DoFn):  # type: ignore[misc]
    """table -> (kind, URI of the Parquet file it was written to, rows)."""

    def __init__(self, folder: str, kind: str) -> None:
        self.folder, self.kind = folder.rstrip("/"), kind

    def setup(self) -> None:
        storage_options(self.folder)  # a worker process writes gs:// as the driver does

    def process(self, table: pa.Table) -> Iterator[tuple[str, str, int]]:
        uri = f"{self.folder}/{self.kind}-{uuid.uuid4().hex}.parquet"
        with fsspec.open(uri, "wb", auto_mkdir=True) as fh:
            pq.write_table(table, fh)
        yield self.kind, uri, table.num_rows
