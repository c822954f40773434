"""`read_batches`: the registry of readers by format, bounded batches, one schema, closing."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.sources.readers.conftest import META, one, write
from trackline.errors import UsageError
from trackline.sources.readers import LINES_SCHEMA, READERS, read_batches
from trackline.sources.readers.stream import ByteStream


def sample(tmp_path: Path, fmt: str, n: int) -> Path:
    """A file of `fmt` with n records, numbered 0..n-1 in field `i`."""
    if fmt == "ndjson":
        return write(tmp_path / "e.ndjson", "".join(f'{{"i":{i}}}\n' for i in range(n)))
    if fmt == "json":
        return write(tmp_path / "e.json", json.dumps([{"i": i} for i in range(n)]))
    if fmt == "csv":
        return write(tmp_path / "e.csv", "i\n" + "".join(f"{i}\n" for i in range(n)))
    buf = io.BytesIO()
    pq.write_table(pa.table({"i": list(range(n))}), buf, row_group_size=97)
    return write(tmp_path / "e.parquet", buf.getvalue())


@pytest.mark.parametrize("fmt", ["ndjson", "json", "csv", "parquet"])
def test_every_format_gives_full_batches_of_one_schema_in_order(tmp_path: Path, fmt: str) -> None:
    reader = read_batches(one(sample(tmp_path, fmt, 1000)), 64, block_bytes=500)
    batches = list(reader)
    assert [b.num_rows for b in batches] == [64] * 15 + [40]
    assert {b.schema for b in batches} == {reader.schema}
    table = pa.Table.from_batches(batches, reader.schema)
    assert table.column("_source_line").to_pylist() == [
        i + (2 if fmt == "csv" else 1) for i in range(1000)
    ]
    if fmt in ("ndjson", "json"):
        assert reader.schema == LINES_SCHEMA
        assert [json.loads(r)["i"] for r in table.column("_raw").to_pylist()] == list(range(1000))
    else:
        assert reader.schema.names == ["i", *META[1:]] if fmt == "parquet" else ["i", *META]
        assert [int(v) for v in table.column("i").to_pylist()] == list(range(1000))


@pytest.mark.parametrize(("batch_rows", "block_bytes"), [(0, 10), (10, 0), (-1, -1)])
def test_sizes_must_be_positive(tmp_path: Path, batch_rows: int, block_bytes: int) -> None:
    f = one(sample(tmp_path, "ndjson", 3))
    with pytest.raises(UsageError, match="must be positive"):
        read_batches(f, batch_rows, block_bytes=block_bytes)


def test_a_registered_reader_is_used_regrouped_and_its_file_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[ByteStream] = []
    schema = pa.schema([("n", pa.int64())])

    def read(
        stream: ByteStream, *, batch_rows: int, block_bytes: int
    ) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        opened.append(stream)
        sizes = [0, 3, 10, 1, 0, 7]  # any sizes, empty ones too
        starts = [sum(sizes[:k]) for k in range(len(sizes))]
        return schema, iter(
            pa.record_batch([pa.array(range(s, s + n), pa.int64())], schema=schema)
            for s, n in zip(starts, sizes, strict=True)
        )

    monkeypatch.setitem(READERS, "csv", read)
    reader = read_batches(one(write(tmp_path / "e.csv", "whatever")), 4)
    assert not opened[0].closed  # the file stays open while batches are read
    batches = list(reader)
    assert [b.num_rows for b in batches] == [4, 4, 4, 4, 4, 1]
    assert pa.Table.from_batches(batches).column("n").to_pylist() == list(range(21))
    assert opened[0].closed


def test_a_reader_that_fails_to_start_leaves_no_file_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[ByteStream] = []

    def read(
        stream: ByteStream, *, batch_rows: int, block_bytes: int
    ) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        opened.append(stream)
        raise RuntimeError("boom")

    monkeypatch.setitem(READERS, "csv", read)
    with pytest.raises(RuntimeError, match="boom"):
        read_batches(one(write(tmp_path / "e.csv", "a\n1\n")))
    assert opened[0].closed
