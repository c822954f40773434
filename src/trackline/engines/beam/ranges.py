"""One big NDJSON file read by several workers at once: byte ranges cut at line ends.

A plain (uncompressed) NDJSON file larger than `split_bytes` is read as ranges of about that
size, one pipeline element each, so no worker ships the file's text to another. A range owns
the lines that begin inside it: it starts after the first newline at or past its start (the
first range at 0) and ends after the first newline at or past its end. Its lines go through
the NDJSON reader (`sources.readers.ndjson`) as a file of their own, numbered on from the
newlines before the range, so `_source_line` is the line in the whole file.

Not the same as the whole-file read in one case: a line in the middle of a file that begins
with a byte-order mark has it skipped when it opens a range (the reader skips a file's BOM).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trackline.sources.base import InputFile
from trackline.sources.readers import ndjson
from trackline.sources.readers.rows import regroup
from trackline.sources.readers.stream import BLOCK_BYTES

SCAN_BYTES = 8 << 20  # read size while looking for line ends and counting newlines
_NL = ord("\n")
Range = tuple[int, int | None]  # [start, end) in bytes; (0, None) is the whole file


def ranges(f: InputFile, split_bytes: int) -> list[Range]:
    """The ranges a file is read as: several for a big plain NDJSON file, else one."""
    if f.format != "ndjson" or f.compression is not None or f.size <= split_bytes:
        return [(0, None)]
    cuts = list(range(0, f.size, split_bytes))
    return [(a, b) for a, b in zip(cuts, [*cuts[1:], f.size], strict=True)]


class CutLines:
    """Fed every byte of one file in order (the hash pass's `copy_to`): for each cut, the
    newlines before the byte just ahead of it, where a range's search for its first line
    starts (`before[cut]`)."""

    def __init__(self, cuts: list[int]) -> None:
        self._marks = sorted(c for c in cuts if c > 0)
        self.before: dict[int, int] = {}
        self._pos = self._newlines = self._next = 0

    def write(self, chunk: Any) -> int:
        arr = np.frombuffer(chunk, np.uint8)  # a view: the caller reuses its buffer after
        end = self._pos + len(arr)
        while self._next < len(self._marks) and self._marks[self._next] - 1 < end:
            cut = self._marks[self._next]
            ahead = arr[: cut - 1 - self._pos]
            self.before[cut] = self._newlines + int(np.count_nonzero(ahead == _NL))
            self._next += 1
        self._newlines += int(np.count_nonzero(arr == _NL))
        self._pos = end
        return len(arr)


class RangeStream:
    """The bytes [begin, stop) of a file, as the NDJSON reader reads a stream."""

    def __init__(self, f: InputFile, fh: Any, begin: int, stop: int) -> None:
        self.file, self._fh, self._left = f, fh, stop - begin
        fh.seek(begin)

    gzip_error: str | None = None  # a plain file: never

    def read_buffer(self, n: int) -> pa.Buffer:
        data = self._fh.read(min(n, self._left)) if self._left > 0 else b""
        self._left -= len(data)
        return pa.py_buffer(data)

    def close(self) -> None:
        self._fh.close()


def _line_start(fh: Any, at: int, size: int) -> int:
    """The first line start at or after `at`: just past the first newline at or past at-1."""
    if at <= 0:
        return 0
    fh.seek(at - 1)
    pos = at - 1
    while pos < size:
        chunk = fh.read(SCAN_BYTES)
        if not chunk:
            break
        nl = chunk.find(b"\n")
        if nl >= 0:
            return int(pos + nl + 1)
        pos += len(chunk)
    return size


def _newlines_before(fh: Any, at: int) -> int:
    fh.seek(0)
    count, left = 0, at
    while left > 0:
        chunk = fh.read(min(SCAN_BYTES, left))
        if not chunk:
            break
        count += chunk.count(b"\n")
        left -= len(chunk)
    return count


def read_range(
    f: InputFile, start: int, end: int, batch_rows: int, newlines: int | None = None
) -> Iterator[pa.RecordBatch]:
    """The rows of the lines that begin in [start, end), numbered as in the whole file;
    `newlines`: the file's newlines before byte start-1 (`CutLines`), else counted here."""
    fs, path = fsspec.core.url_to_fs(f.uri)
    with fs.open(path, "rb") as fh:
        size = f.size
        begin = _line_start(fh, start, size)
        stop = _line_start(fh, end, size) if end < size else size
        if begin >= stop:
            return
        if newlines is None:
            before = _newlines_before(fh, begin)
        else:  # the range begins just past the first newline at or after byte start-1
            before = newlines + 1 if begin > 0 else 0
    stream = RangeStream(f, fs.open(path, "rb"), begin, stop)
    reader: Any = ndjson.read  # typed for ByteStream; RangeStream has what it reads
    schema, blocks = reader(stream, batch_rows=batch_rows, block_bytes=BLOCK_BYTES)
    for batch in regroup(schema, blocks, batch_rows, stream.close):
        if before:
            i = batch.schema.get_field_index("_source_line")
            lines = pc.add(batch.column(i), pa.scalar(before, pa.int64()))
            batch = batch.set_column(i, batch.schema.field(i), lines)
        yield batch
