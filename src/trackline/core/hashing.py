"""Content hashes of files (inputs, landed copies, lake outputs), in one place.

Reading into one reused buffer instead of a fresh `bytes` per chunk matters on big inputs: each
fresh chunk is new memory the OS must fault in and zero, which cost more than the hash itself
(docs/performance.md, "Plan").
"""

from __future__ import annotations

import hashlib
from typing import IO, Any

CHUNK = 1 << 20  # fits in the CPU caches; larger reads gained nothing


def sha256_stream(fh: IO[bytes] | Any, *, copy_to: IO[bytes] | Any = None) -> tuple[str, int]:
    """SHA-256 (hex) and size of what `fh` yields from its position to its end.

    With `copy_to`, every byte is also written there (hash while copying, one read).
    """
    digest = hashlib.sha256()
    size = update_from(digest, fh, copy_to=copy_to)
    return digest.hexdigest(), size


def update_from(digest: Any, fh: IO[bytes] | Any, *, copy_to: IO[bytes] | Any = None) -> int:
    """Feed `digest` (any hashlib object) what `fh` yields to its end; the number of bytes."""
    size = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    readinto = getattr(fh, "readinto", None)
    while True:
        if readinto is not None:
            n = readinto(buf)
            chunk: Any = view[:n] if n else b""
        else:  # a file object without readinto: plain reads
            chunk = fh.read(CHUNK)
            n = len(chunk)
        if not n:
            return size
        digest.update(chunk)
        if copy_to is not None:
            copy_to.write(chunk)
        size += n


class HashingWriter:
    """A file being written that hashes what it is given: a written file's content hash
    without reading it back, which would add to the run's tail."""

    def __init__(self, out: IO[bytes] | Any) -> None:
        self.out, self.size, self.digest = out, 0, hashlib.sha256()

    def write(self, data: Any) -> int:
        self.digest.update(data)
        self.size += len(data)
        return int(self.out.write(data) or len(data))

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.out.flush()

    def close(self) -> None:
        self.out.close()

    @property
    def closed(self) -> bool:
        return bool(self.out.closed)

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False
