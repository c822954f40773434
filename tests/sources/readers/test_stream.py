"""The byte stream readers read through: plain or gzip, local or memory://, I/O errors named."""

from __future__ import annotations

import gzip
from pathlib import Path

import fsspec
import pytest

from tests.sources.readers.conftest import mem, one, write
from trackline.errors import TracklineError
from trackline.sources.files import read_batches
from trackline.sources.readers.stream import ByteStream

__all__ = ["mem"]  # a fixture, used by name

TEXT = b"first line\r\n\r\n" + b"".join(b"line %d\n" % i for i in range(5000))


@pytest.fixture(params=["plain", "gzip", "memory-gzip"])
def stream(request: pytest.FixtureRequest, tmp_path: Path, mem: str) -> ByteStream:
    if request.param == "plain":
        return ByteStream(one(write(tmp_path / "e.ndjson", TEXT)))
    if request.param == "gzip":
        return ByteStream(one(write(tmp_path / "e.ndjson.gz", gzip.compress(TEXT))))
    fsspec.filesystem("memory").pipe(f"{mem}/e.ndjson.gz", gzip.compress(TEXT))
    return ByteStream(one(f"{mem}/e.ndjson.gz"))


def test_readline_has_data_and_read_see_the_same_bytes(stream: ByteStream) -> None:
    assert stream.readline() == b"first line\r\n"
    assert stream.has_data()  # looks past the blank line, then gives it back
    assert stream.read(2) == b"\r\n"
    assert stream.read_buffer(7).to_pybytes() == b"line 0\n"
    assert stream.read() == TEXT[len(b"first line\r\n\r\nline 0\n") :]
    assert stream.read() == b""
    assert not stream.has_data()
    assert stream.gzip_error is None
    stream.close()


def test_only_plain_files_are_seekable(tmp_path: Path) -> None:
    plain = ByteStream(one(write(tmp_path / "e.csv", b"a\n1\n")))
    packed = ByteStream(one(write(tmp_path / "e.csv.gz", gzip.compress(b"a\n1\n"))))
    assert plain.seekable() and not packed.seekable()
    plain.read()
    assert plain.seek(0) == 0 and plain.read() == b"a\n1\n"
    plain.close()
    packed.close()


def test_blank_only_data_is_not_data(tmp_path: Path) -> None:
    s = ByteStream(one(write(tmp_path / "e.csv", b"\r\n\n\r\n")))
    assert not s.has_data()
    assert s.read() == b"\r\n\n\r\n"  # nothing was lost by looking
    s.close()


def test_file_gone_after_expand_raises_tracklineerror_naming_it(tmp_path: Path) -> None:
    path = write(tmp_path / "gone.ndjson", "{}\n")
    f = one(path)
    path.unlink()
    with pytest.raises(TracklineError, match=r"cannot read .*gone\.ndjson"):
        read_batches(f).read_all()
