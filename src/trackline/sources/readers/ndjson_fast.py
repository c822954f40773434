"""The fast read of a plain local NDJSON file: DuckDB's `read_json` parses it in the kernel.

The general NDJSON reader (`ndjson`) cuts lines in Python and hands them to the kernel as text,
which tests each line with `json_valid` and parses it again with `json_transform`. DuckDB's own
reader (`Kernel.file_program`) parses each line once, straight from the file, into one text
column per field: far less CPU and memory. What it does not give is each record's text, which
only rejected rows need, and a line number, which is its row number only when no line is blank.

So the fast read is taken only for a file that reads the same both ways (`eligible`, then
`LineScan`, fed by the hash pass that reads every byte anyway): no byte-order mark, no blank
line (DuckDB skips those) and no vertical tab or form feed (DuckDB skips them around a record;
JSON allows neither anywhere). The same pass spools where each line ends, so `LinePicker` reads
a rejected line's text at its offsets. The engine's side (which files read fast, completing
their rejected rows, reading again in full where the two reads could still disagree) is
`trackline.engines.stages.read`.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trackline.sources.base import InputFile
from trackline.sources.readers.encoding import BOM, decode_lines
from trackline.sources.readers.ndjson import MAX_LINE_BYTES
from trackline.sources.readers.rows import RAW_TEXT_LIMIT

_NL = 10
_VT, _FF = 11, 12  # vertical tab, form feed: DuckDB skips them around a record
_SPACE = 32  # a line starting with this or a control character may be blank
GLOB_CHARS = frozenset("*?[{")  # DuckDB would expand these in a path


def eligible(f: InputFile) -> bool:
    """Whether a file can take the fast read at all (its content is checked by `LineScan`)."""
    if f.format != "ndjson" or f.compression is not None or GLOB_CHARS & set(f.uri):
        return False
    fs, _ = fsspec.core.url_to_fs(f.uri)
    return "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))


class LineScan:
    """What one pass over a file's bytes says about its lines (fed by the hash, see
    `trackline.core.hashing`): how many there are, whether DuckDB reads them as we do, and where
    each ends (spooled to a temporary file, 8 bytes a line: `LinePicker` reads rejected
    lines by these offsets instead of searching the file for newlines again).

    Conservative on purpose: a file with any line that is empty or starts with a blank
    or control character takes the general path, so blank lines need no exact test here.

    Each chunk is read in place (no copy of it) with one numpy pass: the few bytes up to form
    feed (newlines, tabs, the rare control character) are found at once and sorted out among
    themselves, a fraction of the hash's own cost.
    """

    def __init__(self) -> None:
        self.size = 0
        self.newlines = 0
        self.clean = True
        self._head = b""
        self._last = _NL  # the byte before the first line
        self._low = np.empty(0, np.bool_)  # scratch: one flag a byte of a chunk, reused
        self._spool: Any = tempfile.TemporaryFile()  # noqa: SIM115 (closed by `close`)

    def write(self, chunk: Any) -> int:
        arr = np.frombuffer(chunk, np.uint8)  # a view: the caller reuses its buffer after
        n = len(arr)
        if not n:
            return 0
        if len(self._head) < 3:
            self._head = (self._head + arr[:3].tobytes())[:3]
        if len(self._low) < n:
            self._low = np.empty(n, np.bool_)
        low = np.flatnonzero(np.less_equal(arr, _FF, out=self._low[:n]))
        values = arr[low]
        newlines = low[values == _NL]
        if self.clean:
            if ((values == _VT) | (values == _FF)).any():
                self.clean = False
            else:
                starts = arr[newlines[newlines < n - 1] + 1]
                if self._last == _NL:
                    starts = np.append(starts, arr[0])
                self.clean = not (starts <= _SPACE).any()
        if self.clean:
            (newlines + self.size).astype("<i8").tofile(self._spool)
        self.size += n
        self.newlines += len(newlines)
        self._last = int(arr[-1])
        return n

    @property
    def lines(self) -> int:
        """Physical lines (a last line without a newline counts)."""
        return self.newlines + (1 if self.size and self._last != _NL else 0)

    @property
    def fast(self) -> bool:
        """True when DuckDB's read gives exactly one row per line, in line order."""
        return self.clean and self.size > 0 and self._head != BOM

    def newline_offsets(self, first: int, stop: int) -> np.ndarray:
        """Byte offsets of newlines number `first` to `stop - 1` (0-based)."""
        self._spool.flush()
        data = os.pread(self._spool.fileno(), (stop - first) * 8, first * 8)
        return np.frombuffer(data, "<i8")

    def close(self) -> None:
        self._spool.close()


class LinePicker:
    """The text of chosen lines of a file, by the line ends its `LineScan` spooled.

    Text is decoded and cut like the general reader does (final CR dropped; bytes that are
    not UTF-8 replaced, with the reason; a line over `MAX_LINE_BYTES` kept as its head), so a
    rejected record reads the same either way.
    """

    def __init__(self, uri: str, scan: LineScan) -> None:
        self.uri, self.scan = uri, scan
        self._fh: Any = None

    def take(self, lines: np.ndarray | list[int]) -> tuple[pa.Array, pa.Array]:
        """Text and malformed reason (null if none) of each line (1-based, in increasing
        order), as Arrow strings; raises `LookupError` for a line the file does not have.

        One `pread` a line, and the rest in Arrow: the text is checked to be UTF-8 in one
        pass, and only a batch that is not goes line by line (`decode_lines`).
        """
        wanted = np.asarray(lines, np.int64)
        if not len(wanted):
            return pa.array([], pa.string()), pa.array([], pa.string())
        if wanted[0] < 1 or wanted[-1] > self.scan.lines or (np.diff(wanted) < 0).any():
            raise LookupError(f"lines {wanted[0]}..{wanted[-1]} are not lines of {self.uri}")
        lo, hi = max(int(wanted[0]) - 2, 0), min(int(wanted[-1]), self.scan.newlines)
        offsets = self.scan.newline_offsets(lo, hi)
        # line n ends at newline n-1 (or at the end of the file) and starts after newline n-2
        ends = np.full(len(wanted), self.scan.size, np.int64)
        has_end = wanted - 1 < self.scan.newlines
        ends[has_end] = offsets[wanted[has_end] - 1 - lo]
        starts = np.zeros(len(wanted), np.int64)
        after = wanted >= 2
        starts[after] = offsets[wanted[after] - 2 - lo] + 1
        sizes = ends - starts
        long = sizes > MAX_LINE_BYTES  # as the general reader: its head, and why
        sizes[long] = RAW_TEXT_LIMIT
        if self._fh is None:
            fs, path = fsspec.core.url_to_fs(self.uri)
            self._fh = fs.open(path, "rb")
        fd, pread = self._fh.fileno(), os.pread
        binary = pa.array(
            [pread(fd, n, at) for at, n in zip(starts.tolist(), sizes.tolist(), strict=True)],
            pa.binary(),
        )
        crlf = pc.and_(pc.ends_with(binary, pattern="\r"), pa.array(~long))
        if pc.any(crlf).as_py():  # a CRLF line ends before its CR
            binary = pc.if_else(crlf, pc.binary_slice(binary, 0, -1), binary)
        try:
            text, reasons = binary.cast(pa.string()), pa.nulls(len(binary), pa.string())
        except pa.ArrowInvalid:  # not UTF-8 somewhere: line by line, as the general reader
            text, reasons = decode_lines(binary)
        if long.any():
            why = f"line longer than {MAX_LINE_BYTES} bytes"
            reasons = pc.if_else(pa.array(long), why, reasons)
        return text, reasons

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
