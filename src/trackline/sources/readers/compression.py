"""gzip: decompress a file as it is read, keeping everything before any damage.

Decompressed here with zlib rather than `gzip.GzipFile`, which discards what it decompressed in
a read that then hits a corrupt or truncated spot. Damage reads as end-of-file and is kept in
`error`, which the readers turn into one malformed row after the rows they could read.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable

from trackline.contracts.reasons import Malformed

TRUNCATED = "compressed file ended before the end-of-stream marker was reached"
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # gzip header and trailer
_INPUT_BYTES = 1 << 20  # compressed bytes fed to zlib at a time


class Gunzip:
    """Decompresses the bytes `read_raw(n)` returns; concatenated members read as one."""

    def __init__(self, read_raw: Callable[[int], bytes], max_chunk: int) -> None:
        self.error: str | None = None
        self._read_raw = read_raw
        self._max_chunk = max_chunk  # most decompressed bytes zlib returns at once
        self._zlib = zlib.decompressobj(_GZIP_WBITS)
        self._input = b""  # compressed bytes not yet fed to zlib
        self._in_member = False  # inside a gzip member whose end is not yet seen

    def read(self, n: int) -> bytes:
        """Up to n decompressed bytes (all when n < 0); b"" at the end or after damage."""
        want = sys.maxsize if n < 0 else n
        parts: list[bytes] = []
        size = 0
        while size < want and self.error is None:
            if not self._input:
                self._input = self._read_raw(_INPUT_BYTES)
                if not self._input:
                    if self._in_member:
                        self.error = Malformed.CORRUPT_GZIP.format(error=TRUNCATED)
                    break
            self._in_member = True
            try:
                data = self._zlib.decompress(self._input, min(want - size, self._max_chunk))
            except zlib.error as exc:
                self.error = Malformed.CORRUPT_GZIP.format(error=exc)
                break
            parts.append(data)
            size += len(data)
            if self._zlib.eof:  # a member ended; another may follow (concatenated gzip)
                self._input = self._zlib.unused_data
                self._zlib = zlib.decompressobj(_GZIP_WBITS)
                self._in_member = False
            else:
                self._input = self._zlib.unconsumed_tail
        return b"".join(parts)
