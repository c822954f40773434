"""Text encoding: every reader takes UTF-8 and reports bytes that are not as bad encoding.

A record holding undecodable bytes is still a row, with reason `BAD_ENCODING` and its text
with those bytes replaced (U+FFFD), never an exception.
"""

from __future__ import annotations

import codecs

import pyarrow as pa

from trackline.contracts.reasons import Malformed
from trackline.sources.readers.stream import ByteStream

BAD_ENCODING = Malformed.BAD_ENCODING.text
BOM = b"\xef\xbb\xbf"

# Undecodable bytes become this noncharacter (Unicode reserves it for internal use), so
# records that held them can be found after parsing and reported as bad encoding.
SENTINEL = "\ufdd0"
SENTINEL_ERRORS = "trackline.sentinel"


def _sentinel(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return SENTINEL * (exc.end - exc.start), exc.end


codecs.register_error(SENTINEL_ERRORS, _sentinel)


def visible(text: str) -> str:
    """Text for `_raw`: sentinels shown as the usual replacement character."""
    return text.replace(SENTINEL, "\ufffd")


def decode_lines(lines: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Decode binary lines one by one: bad ones are replaced text with a reason."""
    text: list[str] = []
    reasons: list[str | None] = []
    for value in lines.to_pylist():
        try:
            text.append(value.decode("utf-8"))
            reasons.append(None)
        except UnicodeDecodeError:
            text.append(value.decode("utf-8", "replace"))
            reasons.append(BAD_ENCODING)
    return pa.array(text, pa.string()), pa.array(reasons, pa.string())


class Utf8Stream:
    """Passes a byte stream on as valid UTF-8, undecodable bytes replaced by `SENTINEL`.

    Lets pyarrow's CSV reader parse files with bad bytes (it cannot otherwise) while the rows
    that held them can still be found and reported.
    """

    def __init__(self, stream: ByteStream) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8")(SENTINEL_ERRORS)
        self._buffer = b""
        self._eof = False
        self.saw_bad = False
        self.closed = False

    def read(self, n: int = -1) -> bytes:
        while not self._eof and (n < 0 or len(self._buffer) < n):
            chunk = self._stream.read(n - len(self._buffer) if n > 0 else -1)
            self._eof = not chunk or n < 0
            text = self._decoder.decode(chunk, final=self._eof)
            self.saw_bad = self.saw_bad or SENTINEL in text
            self._buffer += text.encode("utf-8")
        if n < 0 or n >= len(self._buffer):
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True
