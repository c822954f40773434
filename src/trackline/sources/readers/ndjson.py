"""NDJSON: one row per non-blank line, the hot path of the general read.

json shape; `_source_line` is the physical line in the decompressed file. Lines that are empty
or hold only spaces, tabs and CRs are not records and get no row; one CR before a newline is
cut off; a byte-order mark at the start of the file is skipped. A line that is not UTF-8 is a
malformed row (bad encoding); a line longer than `MAX_LINE_BYTES` is one malformed row holding
its head, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from trackline.contracts.reasons import Malformed
from trackline.sources.base import InputFile
from trackline.sources.readers.encoding import BOM, decode_lines
from trackline.sources.readers.rows import (
    LINES_SCHEMA,
    RAW_TEXT_LIMIT,
    arange,
    constant,
    meta_batch,
)
from trackline.sources.readers.stream import ByteStream

MAX_LINE_BYTES = 64 << 20  # a longer line is one malformed row, so memory stays bounded

_NL, _CR, _SP, _TAB = 10, 13, 32, 9


def read(
    stream: ByteStream, *, batch_rows: int, block_bytes: int
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The rows of an NDJSON file, in blocks of `block_bytes` (regrouped by the caller)."""
    return LINES_SCHEMA, _blocks(stream, block_bytes)


def _blocks(stream: ByteStream, block_bytes: int) -> Iterator[pa.RecordBatch]:
    """Read large blocks and cut each into lines without copying the text.

    Lines become string views into the block (see `_views`). The unfinished line at the end of
    a block is carried and completed by the next block's first line, so no block is ever
    copied whole; a line that grows past `MAX_LINE_BYTES` becomes one malformed row and is
    skipped to its end.
    """
    f = stream.file
    line = 1  # physical number of the first line not yet emitted
    carry: list[bytes] = []  # the current, unfinished line
    carried = 0
    skipping: bytes | None = None  # head of an over-long line being skipped
    first = True
    while (chunk := stream.read_buffer(block_bytes)).size:
        data = np.frombuffer(chunk, np.uint8)
        if skipping is not None:
            hits = np.flatnonzero(data == _NL)
            if not len(hits):
                continue
            yield _too_long(f, skipping, line)
            line, skipping = line + 1, None
            chunk, data = chunk.slice(int(hits[0]) + 1), data[int(hits[0]) + 1 :]
        newlines = np.flatnonzero(data == _NL)
        if not len(newlines):
            carry.append(chunk.to_pybytes())
            carried += chunk.size
            if carried > MAX_LINE_BYTES:
                skipping = b"".join(carry)[:RAW_TEXT_LIMIT]
                carry, carried = [], 0
            continue
        head, cut = int(newlines[0]), int(newlines[-1])
        if carry:  # the carried line ends at this block's first newline: a batch of its own
            joined = b"".join([*carry, chunk.slice(0, head).to_pybytes()])
            batch, count = _split(f, pa.py_buffer(joined), line, strip_bom=first)
            line, first = line + count, False
            yield batch
            if cut > head:
                body = chunk.slice(head + 1, cut - head - 1)
                batch, count = _split(f, body, line, newlines[1:-1] - (head + 1))
                line += count
                yield batch
        else:
            batch, count = _split(f, chunk.slice(0, cut), line, newlines[:-1], strip_bom=first)
            line, first = line + count, False
            yield batch
        carry = [chunk.slice(cut + 1).to_pybytes()]
        carried = chunk.size - cut - 1
    if skipping is not None:
        yield _too_long(f, skipping, line)
        line += 1
    elif carried:
        batch, count = _split(f, pa.py_buffer(b"".join(carry)), line, strip_bom=first)
        line += count
        yield batch
    if stream.gzip_error:
        yield meta_batch(f, [""], [line], [stream.gzip_error])


def _too_long(f: InputFile, head: bytes, line: int) -> pa.RecordBatch:
    text = head.decode("utf-8", "replace")
    return meta_batch(f, [text], [line], [Malformed.LINE_TOO_LONG.format(limit=MAX_LINE_BYTES)])


def _split(
    f: InputFile,
    body: pa.Buffer,
    first_line: int,
    newlines: np.ndarray | None = None,
    *,
    strip_bom: bool = False,
) -> tuple[pa.RecordBatch, int]:
    """Rows for a block of whole lines (final newline cut off), and its physical line count.

    `newlines` are the block's newline positions when the caller already found them.
    """
    if strip_bom and body.size >= 3 and body.slice(0, 3).to_pybytes() == BOM:
        body = body.slice(3)
        newlines = None if newlines is None else newlines - 3
    data = np.frombuffer(body, np.uint8)
    if newlines is None:
        newlines = np.flatnonzero(data == _NL)
    starts, ends = _bounds(data, newlines)
    count = len(starts)
    numbers = arange(first_line, count)
    keep = _not_blank(data, starts, ends)
    if keep is not None:
        starts, ends = starts[keep], ends[keep]
        numbers = numbers.filter(pa.array(keep))
    malformed: pa.Array | None = None
    try:  # one SIMD pass over the block says whether every line is UTF-8
        pa.Array.from_buffers(
            pa.binary(), 1, [None, pa.array([0, body.size], pa.int32()).buffers()[1], body]
        ).cast(pa.string())
    except pa.ArrowInvalid:  # not UTF-8 somewhere: decide line by line, for this block only
        text, malformed = decode_lines(_views(body, data, starts, ends, pa.binary_view()))
        lines = text.cast(pa.string_view())
    else:
        lines = _views(body, data, starts, ends, pa.string_view())
    n = len(lines)
    batch = pa.RecordBatch.from_arrays(
        [
            lines,
            constant(f.uri, n),
            numbers,
            malformed if malformed is not None else pa.nulls(n, pa.string()),
        ],
        schema=LINES_SCHEMA,
    )
    return batch, count


def _bounds(data: np.ndarray, newlines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive, before a final CR) of every line of a block."""
    n = len(newlines) + 1
    starts = np.empty(n, np.int64)
    starts[0] = 0
    starts[1:] = newlines + 1
    ends = np.empty(n, np.int64)
    ends[:-1] = newlines
    ends[-1] = len(data)
    has_text = ends > starts
    cr = np.zeros(n, bool)
    cr[has_text] = data[ends[has_text] - 1] == _CR
    return starts, ends - cr


def _not_blank(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """Which lines are records, not blank (None when every line is, the usual case).

    Only a line that is empty or starts with a space, tab or CR can be blank, and such lines
    are rare: they alone are looked at one by one.
    """
    head = np.full(len(starts), _NL, np.uint8)
    has_text = ends > starts
    head[has_text] = data[starts[has_text]]
    maybe = np.flatnonzero(~has_text | (head == _SP) | (head == _TAB) | (head == _CR))
    blank = [i for i in maybe if not data[starts[i] : ends[i]].tobytes().strip(b" \t\r")]
    if not blank:
        return None
    keep = np.ones(len(starts), bool)
    keep[blank] = False
    return keep


def _views(
    body: pa.Buffer, data: np.ndarray, starts: np.ndarray, ends: np.ndarray, kind: pa.DataType
) -> pa.Array:
    """Lines of a block as a string (or binary) view array that points into `body`.

    Arrow's view layout (16 bytes a value: the length, then the value itself when it fits in
    12 bytes, else its first 4 bytes, a buffer index and an offset) is built with numpy, so the
    text is never copied; DuckDB reads this layout natively.
    """
    n = len(starts)
    if not len(data) or not n:
        return pa.array([""] * n, kind)
    lengths = (ends - starts).astype(np.int32)
    views = np.zeros((n, 4), np.int32)
    views[:, 0] = lengths
    raw = views.view(np.uint8).reshape(n, 16)
    last = len(data) - 1
    inline = lengths <= 12
    if inline.any():
        at = np.arange(12)
        idx = np.minimum(starts[inline][:, None] + at, last)
        raw[inline, 4:16] = data[idx] * (at < lengths[inline][:, None])
    out = ~inline
    if out.any():
        # the 4-byte prefix of a value at offset i is the little-endian int32 at byte i: one
        # gather from an overlapping view instead of four (such values are over 12 bytes, so
        # every one of these reads stays inside the block)
        at = starts[out]
        words = np.ndarray((len(data) - 3,), "<i4", data, 0, (1,))
        views[out, 1] = words[at]
        views[out, 3] = at
    return pa.Array.from_buffers(kind, n, [None, pa.py_buffer(views), body])
