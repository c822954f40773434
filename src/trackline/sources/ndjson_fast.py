"""The fast read of a plain local NDJSON file: DuckDB's `read_json` parses it in the kernel.

The general NDJSON path cuts lines in Python (numpy) and hands them to the kernel as text, which
then tests each line with `json_valid` and parses it again with `json_transform`. DuckDB's own
reader parses each line once, straight from the file, into one text column per field: the
reader, the validity test and the second parse go (1.5 CPU-seconds per million events of 3.7,
and 200 MB less peak memory). What it does not give is each record's text, which only rejected
rows need, and a line number, which is its row number only when no line is blank.

So the fast read is taken only for a file that reads the same both ways, which the hash pass
already reading every byte finds out (`LineScan`): no byte-order mark, no blank line (DuckDB
skips those) and no vertical tab or form feed (DuckDB skips them around a record; JSON allows
neither anywhere). A row DuckDB could not parse has every field NULL; the engine then re-checks
that line's text with the general kernel, so its reason is the general path's. The text of
rejected lines is read back by `LinePicker`, in line order, one pass along the file. Where the
two reads could still disagree (a line DuckDB refused that the general kernel accepts, or a
row count that is not the file's line count) the engine runs the whole input again on the
general path: nothing is committed before that check.
"""

from __future__ import annotations

from typing import Any

import fsspec
import numpy as np

from trackline.sources.base import InputFile
from trackline.sources.files import BAD_ENCODING, BOM, MAX_LINE_BYTES, RAW_TEXT_LIMIT

BLOCK_BYTES = 16 << 20
_NL, _CR = 10, 13
_SPACE = 32  # a line starting with this or a control character may be blank
_GLOB_CHARS = frozenset("*?[{")  # DuckDB would expand these in a path


def eligible(f: InputFile) -> bool:
    """Whether a file can take the fast read at all (its content is checked by `LineScan`)."""
    if f.format != "ndjson" or f.compression is not None or _GLOB_CHARS & set(f.uri):
        return False
    fs, _ = fsspec.core.url_to_fs(f.uri)
    return "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))


class LineScan:
    """What one pass over a file's bytes says about its lines (fed by the hash, see
    `trackline.hashing`): how many there are, and whether DuckDB reads them as we do.

    Conservative on purpose: a file with any line that is empty or starts with a blank
    or control character takes the general path, so blank lines need no exact test here. Numpy
    finds the newlines (0.1 CPU-seconds for 288 MB, beside the hash).
    """

    def __init__(self) -> None:
        self.size = 0
        self.newlines = 0
        self.clean = True
        self._head = b""
        self._last = _NL  # the byte before the first line

    def write(self, chunk: Any) -> int:
        data = bytes(chunk)
        if not data:
            return 0
        if len(self._head) < 3:
            self._head = (self._head + data)[:3]
        self.size += len(data)
        arr = np.frombuffer(data, np.uint8)
        newlines = np.flatnonzero(arr == _NL)
        self.newlines += len(newlines)
        if self.clean:
            if b"\x0b" in data or b"\x0c" in data:
                self.clean = False
            else:
                starts = arr[newlines[newlines < len(arr) - 1] + 1]
                if self._last == _NL:
                    starts = np.append(starts, arr[0])
                self.clean = not (starts <= _SPACE).any()
        self._last = int(arr[-1])
        return len(data)

    @property
    def lines(self) -> int:
        """Physical lines (a last line without a newline counts)."""
        return self.newlines + (1 if self.size and self._last != _NL else 0)

    @property
    def fast(self) -> bool:
        """True when DuckDB's read gives exactly one row per line, in line order."""
        return self.clean and self.size > 0 and self._head != BOM


class LinePicker:
    """The text of chosen lines of a file, asked for in increasing line order (one pass).

    Text is decoded and cut like the general reader does (final CR dropped; bytes that are
    not UTF-8 replaced, with the reason), so a rejected record reads the same either way.
    One buffer is reused for the whole file: fresh blocks would be new memory for the OS to
    fault in each time.
    """

    def __init__(self, uri: str, block_bytes: int = BLOCK_BYTES) -> None:
        self.uri, self.block_bytes = uri, block_bytes
        self._fh: Any = None
        self._buf = bytearray(block_bytes)
        self._len = 0  # bytes of _buf in use
        self._nl = np.empty(0, np.int64)  # newline positions in _buf[:_len]
        self._first = 1  # line number of the line that starts at _buf[0]
        self._eof = False

    def take(self, lines: list[int]) -> tuple[list[str], list[str | None]]:
        """Text and malformed reason (None if none) of each line; raises `LookupError` for a
        line before the last one taken or past the end of the file."""
        texts: list[str] = []
        reasons: list[str | None] = []
        wanted = np.asarray(lines, np.int64)
        i = 0
        while i < len(wanted):
            if wanted[i] < self._first:
                raise LookupError(f"line {wanted[i]} asked for after line {self._first}")
            ks = wanted[i:] - self._first
            covered = int(np.searchsorted(ks, len(self._nl)))  # lines already whole in _buf
            if covered:
                ks = ks[:covered]
                ends = self._nl[ks]
                starts = np.where(ks > 0, self._nl[ks - 1] + 1, 0)
                with memoryview(self._buf) as view:
                    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
                        _decode(view[start:end], texts, reasons)
                i += covered
                continue
            raw, reason = self._line(int(wanted[i]))  # read on, or the last or a long line
            if reason is None:
                _decode(memoryview(raw), texts, reasons)
            else:
                texts.append(raw.decode("utf-8", "replace"))
                reasons.append(reason)
            i += 1
        return texts, reasons

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _line(self, line: int) -> tuple[bytes, str | None]:
        if line < self._first:
            raise LookupError(f"line {line} asked for after line {self._first}")
        while True:
            k = line - self._first
            if k < len(self._nl):
                start = int(self._nl[k - 1]) + 1 if k else 0
                return _cut(bytes(self._buf[start : int(self._nl[k])])), None
            if self._eof:
                done = int(self._nl[-1]) + 1 if len(self._nl) else 0
                if k == len(self._nl) and self._len > done:
                    return _cut(bytes(self._buf[done : self._len])), None
                raise LookupError(f"line {line} is past the end of {self.uri}")
            self._drop(min(k, len(self._nl)))  # the lines before `line` are not wanted
            if self._len > MAX_LINE_BYTES and line == self._first:  # no end in sight
                return self._too_long()
            self._read()

    def _drop(self, count: int) -> None:
        """Forget the first `count` lines (moving the rest to the front of the buffer)."""
        if not count:
            return
        cut = int(self._nl[count - 1]) + 1
        rest = self._len - cut
        self._buf[:rest] = self._buf[cut : self._len]
        self._len = rest
        self._nl = self._nl[count:] - cut
        self._first += count

    def _read(self) -> None:
        if self._fh is None:
            fs, path = fsspec.core.url_to_fs(self.uri)
            self._fh = fs.open(path, "rb")
        assert self._fh is not None
        if len(self._buf) - self._len < self.block_bytes:
            self._buf.extend(bytes(self.block_bytes))
        with memoryview(self._buf) as view:
            n = self._fh.readinto(view[self._len : self._len + self.block_bytes])
        if not n:
            self._eof = True
            return
        fresh = np.frombuffer(self._buf, np.uint8, n, self._len)
        found = np.flatnonzero(fresh == _NL) + self._len
        del fresh  # a live view would pin the buffer's size
        self._nl = np.concatenate((self._nl, found))
        self._len += n

    def _too_long(self) -> tuple[bytes, str]:
        """The general reader's row for an over-long line: its head, and the reason."""
        head = bytes(self._buf[:RAW_TEXT_LIMIT])
        self._len, self._nl = 0, np.empty(0, np.int64)
        while not self._eof and not len(self._nl):
            self._len = 0
            self._read()
        if len(self._nl):
            self._drop(1)  # up to the end of the long line
        else:
            self._first += 1  # it was the last line
        return head, f"line longer than {MAX_LINE_BYTES} bytes"


def _cut(raw: bytes) -> bytes:
    return raw[:-1] if raw.endswith(b"\r") else raw


def _decode(raw: memoryview, texts: list[str], reasons: list[str | None]) -> None:
    """Decode one line like the general reader (final CR dropped; not UTF-8: replaced)."""
    if len(raw) and raw[-1] == _CR:
        raw = raw[:-1]
    try:
        texts.append(str(raw, "utf-8"))
        reasons.append(None)
    except UnicodeDecodeError:
        texts.append(str(raw, "utf-8", "replace"))
        reasons.append(BAD_ENCODING)
