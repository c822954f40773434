"""Content hashes: same digest as hashlib over the whole bytes, whatever the file object."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import fsspec

from trackline.core.hashing import CHUNK, sha256_stream, update_from


class _ReadOnly:
    """A file object with `read` only (no `readinto`)."""

    def __init__(self, data: bytes) -> None:
        self._io = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._io.read(n)


def _data() -> bytes:
    return os.urandom(2 * CHUNK + 12_345)  # several chunks and a partial one


def test_a_local_file_hashes_as_hashlib_does(tmp_path: Path) -> None:
    data = _data()
    path = tmp_path / "in.bin"
    path.write_bytes(data)
    with path.open("rb") as fh:
        assert sha256_stream(fh) == (hashlib.sha256(data).hexdigest(), len(data))


def test_copy_to_receives_every_byte_once() -> None:
    data = _data()
    out = io.BytesIO()
    digest, size = sha256_stream(io.BytesIO(data), copy_to=out)
    assert out.getvalue() == data
    assert (digest, size) == (hashlib.sha256(data).hexdigest(), len(data))


def test_a_file_without_readinto_and_an_fsspec_file() -> None:
    data = _data()
    assert sha256_stream(_ReadOnly(data)) == (hashlib.sha256(data).hexdigest(), len(data))
    fs = fsspec.filesystem("memory")
    fs.pipe("/hashing-test/in.bin", data)
    try:
        with fs.open("/hashing-test/in.bin", "rb") as fh:
            assert sha256_stream(fh)[0] == hashlib.sha256(data).hexdigest()
    finally:
        fs.rm("/hashing-test", recursive=True)


def test_update_from_continues_a_digest_and_an_empty_file_is_zero_bytes() -> None:
    digest = hashlib.sha256(b"prefix")
    assert update_from(digest, io.BytesIO(b"body")) == 4
    assert digest.hexdigest() == hashlib.sha256(b"prefixbody").hexdigest()
    assert sha256_stream(io.BytesIO(b"")) == (hashlib.sha256(b"").hexdigest(), 0)


def test_a_hashing_writer_gives_the_written_file_s_size_and_hash(tmp_path: Path) -> None:
    from trackline.core.hashing import HashingWriter

    path = tmp_path / "out.bin"
    out = HashingWriter(path.open("wb"))
    for part in (b"abc", b"", b"x" * 100_000):
        out.write(part)
    assert out.tell() == 100_003
    out.close()
    body = path.read_bytes()
    assert (out.size, out.digest.hexdigest()) == (len(body), hashlib.sha256(body).hexdigest())
    assert out.closed
