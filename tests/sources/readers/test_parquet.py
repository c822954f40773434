"""Parquet reader: the file's types, row numbers, and damage reported as one malformed row."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tests.sources.readers.conftest import one, rows, write
from trackline.sources.files import read_batches


def parquet_bytes(table: pa.Table, **kw: Any) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, **kw)
    return buf.getvalue()


def test_parquet_keeps_types_and_numbers_rows(tmp_path: Path) -> None:
    table = pa.table({"n": pa.array(range(10), pa.int64()), "s": [f"v{i}" for i in range(10)]})
    path = write(tmp_path / "e.parquet", parquet_bytes(table, row_group_size=3))
    reader = read_batches(one(path), 4)
    assert reader.schema.field("n").type == pa.int64()
    batches = list(reader)
    assert max(b.num_rows for b in batches) <= 4
    result = pa.Table.from_batches(batches).to_pylist()
    assert [(r["_source_line"], r["n"], r["s"]) for r in result] == [
        (i + 1, i, f"v{i}") for i in range(10)
    ]
    assert all(r["_malformed"] is None for r in result)


def test_parquet_gzip_and_meta_name_clash(tmp_path: Path) -> None:
    table = pa.table({"_source_line": ["x", "y"], "v": [1.5, 2.5]})
    path = write(tmp_path / "e.pq.gz", gzip.compress(parquet_bytes(table)))
    result = rows(path)
    assert [(r["_source_line"], r["_source_line_2"], r["v"]) for r in result] == [
        (1, "x", 1.5),
        (2, "y", 2.5),
    ]


def test_parquet_damaged_mid_file_keeps_earlier_rows_then_one_malformed_row(
    tmp_path: Path,
) -> None:
    table = pa.table({"n": pa.array(range(100_000), pa.int64())})
    data = bytearray(parquet_bytes(table, row_group_size=1000, compression="snappy"))
    data[len(data) // 2 : len(data) // 2 + 200] = b"\x00" * 200  # a row group, not the footer
    result = rows(write(tmp_path / "e.parquet", bytes(data)), 1000)
    *good, last = result
    assert 0 < len(good) < 100_000
    assert [r["_source_line"] for r in good] == list(range(1, len(good) + 1))
    assert last["n"] is None
    assert last["_source_line"] == len(good) + 1
    assert last["_malformed"].startswith("unreadable Parquet: ")


def test_corrupt_parquet_is_one_malformed_row(tmp_path: Path) -> None:
    [row] = rows(write(tmp_path / "e.parquet", b"PAR1 this is not parquet at all PAR1"))
    assert row["_malformed"].startswith("unreadable Parquet: ")
    assert (row["_raw"], row["_source_line"]) == ("", 1)
