"""A big NDJSON file read as byte ranges gives the rows the whole-file reader gives: the same
text, the same line numbers, nothing lost or read twice at the cuts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from trackline.core.hashing import sha256_stream
from trackline.engines.beam.ranges import CutLines, ranges, read_range
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


@pytest.mark.parametrize("split", [1, 7, 40, 100])
@pytest.mark.parametrize("chunk", [1, 5, 64, 1 << 20])
def test_cut_lines_counts_what_each_range_would_count_itself(
    tmp_path: Path, split: int, chunk: int
) -> None:
    """The hash pass's count of the newlines before each cut, fed in chunks of any size, is
    what a range would count from the file's start, and with it the rows are the same."""
    data = b"\n".join(LINES * 3) + b"\n"
    path = tmp_path / "f.ndjson"
    path.write_bytes(data)
    [f] = expand([str(path)])
    cut = ranges(f, split)
    lines = CutLines([start for start, _ in cut])
    with path.open("rb") as fh:
        sha256_stream(FeedIn(fh, chunk), copy_to=lines)
    assert lines.before == {s: data[: s - 1].count(b"\n") for s, _ in cut if s > 0}
    parts = [
        b
        for start, end in cut
        for b in read_range(f, start, end or f.size, 5, lines.before.get(start, 0))
    ]
    assert rows(parts) == rows(list(read_batches(f, 5)))


def test_a_range_given_its_newline_count_reads_nothing_before_it(tmp_path: Path) -> None:
    """Given the count, a range numbers its lines from it (it does not count them again)."""
    path = tmp_path / "f.ndjson"
    data = b"\n".join(LINES * 3) + b"\n"
    path.write_bytes(data)
    [f] = expand([str(path)])
    for start, end in ranges(f, 100)[1:]:
        truth = data[: start - 1].count(b"\n")
        counted = list(read_range(f, start, end or f.size, 5))
        given = list(read_range(f, start, end or f.size, 5, truth + 1000))
        assert numbers(given) == [n + 1000 for n in numbers(counted)]
    assert any(numbers(list(read_range(f, s, e or f.size, 5))) for s, e in ranges(f, 100)[1:])


def numbers(batches: list[pa.RecordBatch]) -> list[int]:
    return [n for b in batches for n in b.column("_source_line").to_pylist()]


class FeedIn:
    """A file read in chunks of a given size (the hash reads what `read` gives)."""

    def __init__(self, fh: Any, size: int) -> None:
        self.fh, self.size = fh, size

    def read(self, _: int) -> bytes:
        data: bytes = self.fh.read(self.size)
        return data
