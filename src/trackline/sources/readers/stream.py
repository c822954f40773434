"""The byte stream every reader reads a file through: local or fsspec, plain or gzip.

It tells content errors from I/O errors: gzip damage reads as end-of-file and is kept in
`gzip_error` (the readers report it as a malformed row), while any OSError of the underlying
file raises `TracklineError` naming the file.
"""

from __future__ import annotations

from typing import Any

import fsspec
import pyarrow as pa

from trackline.errors import TracklineError
from trackline.sources.base import InputFile
from trackline.sources.readers.compression import Gunzip

BLOCK_BYTES = 16 << 20  # ndjson/csv read size: large enough to amortise per-block overhead


def is_local(fs: Any) -> bool:
    """Whether an fsspec filesystem is the local disk."""
    return "file" in ([fs.protocol] if isinstance(fs.protocol, str) else fs.protocol)


class ByteStream:
    """A read-only, decompressed view of one input file (see the module docstring)."""

    def __init__(self, f: InputFile) -> None:
        self.file = f
        self._gzip = Gunzip(self._raw, BLOCK_BYTES) if f.compression == "gzip" else None
        self._pushback = b""  # decompressed bytes read ahead by readline()
        self._fh: Any = None
        try:
            fs, path = fsspec.core.url_to_fs(f.uri)
            if is_local(fs) and self._gzip is None:  # Arrow's own file: reads into Arrow buffers
                self._fh = pa.OSFile(path, "rb")
            else:
                self._fh = fs.open(path, "rb")
        except OSError as exc:
            raise self._io_error(exc) from exc

    @property
    def gzip_error(self) -> str | None:
        """Why the gzip stream ended early (damage or truncation), or None."""
        return None if self._gzip is None else self._gzip.error

    def _io_error(self, exc: OSError) -> TracklineError:
        return TracklineError(f"cannot read {self.file.uri}: {exc}")

    def _raw(self, n: int) -> bytes:
        try:
            native = isinstance(self._fh, pa.NativeFile)
            data: bytes = self._fh.read(None if native and n < 0 else n)
        except OSError as exc:
            raise self._io_error(exc) from exc
        return data

    def read(self, n: int = -1) -> bytes:
        head, self._pushback = self._pushback, b""
        if n >= 0 and len(head) >= n:
            head, self._pushback = head[:n], head[n:]
            return head
        want = -1 if n < 0 else n - len(head)
        rest = self._gzip.read(want) if self._gzip is not None else self._raw(want)
        return head + rest if head else rest

    def read_buffer(self, n: int) -> pa.Buffer:
        """Like `read`, as an Arrow buffer (no copy into a Python object for local files)."""
        if self._gzip is None and not self._pushback and isinstance(self._fh, pa.NativeFile):
            try:
                return self._fh.read_buffer(n)
            except OSError as exc:
                raise self._io_error(exc) from exc
        return pa.py_buffer(self.read(n))

    def readline(self) -> bytes:
        parts: list[bytes] = []
        while True:
            chunk = self.read(1 << 16)
            nl = chunk.find(b"\n")
            if nl >= 0:
                parts.append(chunk[: nl + 1])
                self._pushback = chunk[nl + 1 :] + self._pushback
                break
            if not chunk:
                break
            parts.append(chunk)
        return b"".join(parts)

    def has_data(self, ignore: bytes = b"\r\n") -> bool:
        """Whether any byte outside `ignore` is left; what it reads ahead is pushed back."""
        seen: list[bytes] = []
        found = False
        while chunk := self.read(1 << 16):
            seen.append(chunk)
            if chunk.strip(ignore):
                found = True
                break
        self._pushback = b"".join(seen) + self._pushback
        return found

    def seek(self, offset: int, whence: int = 0) -> int:
        try:
            return int(self._fh.seek(offset, whence))
        except OSError as exc:
            raise self._io_error(exc) from exc

    def tell(self) -> int:
        return int(self._fh.tell())

    def seekable(self) -> bool:
        return self._gzip is None and bool(self._fh.seekable())

    def readable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return self._fh is None or bool(self._fh.closed)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
