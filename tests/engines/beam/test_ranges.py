"""A big NDJSON file read as byte ranges gives the rows the whole-file reader gives: the same
text, the same line numbers, nothing lost or read twice at the cuts."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from trackline.engines.beam.ranges import ranges, read_range
from trackline.sources.files import expand, read_batches

LINES = [
    b'{"a": 1}',
    b"",
    b"   ",
    b'{"a": "\xc3("}',
    b"not json",
    b'{"a": 2}\r',
    b'{"long": "' + b"x" * 300 + b'"}',
    b"",
    b'{"a": 3}',
]


def rows(batches: list[pa.RecordBatch]) -> list[tuple[object, ...]]:
    table = pa.Table.from_batches(batches).select(["_raw", "_source_line", "_malformed"])
    return list(zip(*(table.column(i).to_pylist() for i in range(3)), strict=True))


@pytest.mark.parametrize("split", [1, 7, 40, 100, 10_000])
@pytest.mark.parametrize("trailing_newline", [True, False])
def test_ranges_read_what_the_whole_file_reads(
    tmp_path: Path, split: int, trailing_newline: bool
) -> None:
    path = tmp_path / "f.ndjson"
    path.write_bytes(b"\n".join(LINES * 3) + (b"\n" if trailing_newline else b""))
    [f] = expand([str(path)])
    whole = rows(list(read_batches(f, 5)))
    cut = ranges(f, split)
    assert len(cut) == max(1, -(-f.size // split)) if f.size > split else cut == [(0, None)]
    parts = [b for start, end in cut for b in read_range(f, start, end or f.size, 5)]
    assert rows(parts) == whole
    assert len(whole) == 6 * 3  # blank lines are no rows; the rest all are


def test_compressed_and_small_files_are_read_whole(tmp_path: Path) -> None:
    small = tmp_path / "s.ndjson"
    small.write_bytes(b'{"a": 1}\n')
    csv = tmp_path / "c.csv"
    csv.write_text("a\n" + "1\n" * 1000)
    [fs, fc] = expand([str(small), str(csv)])
    assert ranges(fs, 4) != [(0, None)]
    assert ranges(fs, 100) == [(0, None)]
    assert ranges(fc, 4) == [(0, None)]
