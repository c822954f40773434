"""The rejected rows' sink: each row as checked, with its source, counted by reason."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from trackline.contracts.kernel import REJECTED_SCHEMA
from trackline.engines.sinks.rejected import RejectedRows
from trackline.lake import Lake


def checked(records: list[str], reasons: list[list[str]], lines: list[int]) -> pa.RecordBatch:
    return pa.record_batch(
        {
            "_record": pa.array(records, pa.string()),
            "_errors": pa.array(reasons, pa.list_(pa.string())),
            "_detail": pa.nulls(len(records), pa.string()),
            "_source_line": pa.array(lines, pa.int64()),
            "other": pa.array([1] * len(records)),  # the kernel's other columns stay out
        }
    )


def test_rows_are_stored_with_their_source_and_counted_by_reason(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    sink = RejectedRows(lake, lake.path("rejected", "d", "part-00000.parquet"))
    sink.write(checked(["{a", "{b"], [["malformed"], ["enum:x", "malformed"]], [1, 5]), "a.ndjson")
    sink.write(checked(["{c"], [["enum:x"]], [2]), "b.ndjson")
    [stored] = sink.finish()
    assert (sink.rows, stored.rows) == (3, 3)
    assert sink.by_reason() == {"enum:x": 2, "malformed": 2}
    body = Path(stored.path).read_bytes()
    assert (stored.bytes, stored.sha256) == (len(body), hashlib.sha256(body).hexdigest())
    table = pq.read_table(stored.path)
    assert table.schema == REJECTED_SCHEMA
    assert table.column("source_file").to_pylist() == ["a.ndjson", "a.ndjson", "b.ndjson"]
    assert table.column("source_line").to_pylist() == [1, 5, 2]
    sink.abort()  # after finish: nothing left to close
