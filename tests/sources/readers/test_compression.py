"""gzip: read through every format, concatenated members, and damage kept as one malformed row."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.sources.readers.conftest import lines_of, rows, write
from trackline.sources.files import BAD_ENCODING
from trackline.sources.readers.compression import Gunzip


def test_ndjson_gzip_plain_and_concatenated_members(tmp_path: Path) -> None:
    data = gzip.compress(b'{"a":1}\n{"a":2}\n') + gzip.compress(b'{"a":3}\n')
    result = rows(write(tmp_path / "e.ndjson.gz", data), block_bytes=5)
    assert lines_of(result) == [(1, '{"a":1}', None), (2, '{"a":2}', None), (3, '{"a":3}', None)]


def test_corrupt_gzip_keeps_what_was_read_then_one_malformed_row(tmp_path: Path) -> None:
    text = "".join(f'{{"i":{i},"pad":"{i * 7919 % 100003}"}}\n' for i in range(5000)).encode()
    packed = gzip.compress(text)
    result = rows(write(tmp_path / "e.ndjson.gz", packed[: len(packed) // 2]))
    *good, last = result
    assert 0 < len(good) < 5000
    assert last["_malformed"].startswith("corrupt gzip stream:")
    assert last["_source_line"] == good[-1]["_source_line"] + 1
    # every full line read before the damage is intact; at most the cut line is partial
    assert [r["_raw"] for r in good[:-1]] == text.decode().splitlines()[: len(good) - 1]


def test_not_gzip_data_named_gz_is_one_malformed_row(tmp_path: Path) -> None:
    result = rows(write(tmp_path / "e.ndjson.gz", b'{"a":1}\n'))
    assert len(result) == 1
    assert result[0]["_source_line"] == 1
    assert result[0]["_malformed"].startswith("corrupt gzip stream:")


def test_csv_corrupt_gzip_ends_with_a_malformed_row(tmp_path: Path) -> None:
    text = "a,b\n" + "".join(f"{i},{i * 7919 % 100003}\n" for i in range(20_000))
    packed = gzip.compress(text.encode())
    result = rows(write(tmp_path / "e.csv.gz", packed[: len(packed) // 2]))
    assert result[-1]["_malformed"].startswith("corrupt gzip stream:")
    assert result[-1]["_source_line"] == len(result) + 1
    assert 0 < len(result) < 20_000


def test_json_gzip_and_bad_encoding_element(tmp_path: Path) -> None:
    data = b'[{"a": "ok"}, {"a": "\xe9"}]'
    result = rows(write(tmp_path / "e.json.gz", gzip.compress(data)))
    assert lines_of(result) == [(1, '{"a":"ok"}', None), (2, '{"a":"\ufffd"}', BAD_ENCODING)]


def test_truncated_json_array_is_invalid_then_corrupt(tmp_path: Path) -> None:
    packed = gzip.compress(b'[{"a": 1}, {"a": 2}]')
    result = rows(write(tmp_path / "e.json.gz", packed[:-12]))  # the trailer and some data
    assert [(r["_source_line"], r["_malformed"].split(":")[0]) for r in result] == [
        (1, "invalid JSON array"),
        (2, "corrupt gzip stream"),
    ]


def test_truncated_parquet_gzip_is_one_malformed_row(tmp_path: Path) -> None:
    buf = io.BytesIO()
    pq.write_table(pa.table({"n": list(range(1000))}), buf)
    packed = gzip.compress(buf.getvalue())
    [row] = rows(write(tmp_path / "e.parquet.gz", packed[: len(packed) // 2]))
    assert (row["_raw"], row["_source_line"]) == ("", 1)
    assert row["_malformed"].startswith("corrupt gzip stream:")


def reader_over(data: bytes, feed: int) -> tuple[Gunzip, list[int]]:
    """A Gunzip over `data`, handed to it `feed` bytes at a time; records the sizes asked for."""
    source = io.BytesIO(data)
    asked: list[int] = []

    def read_raw(n: int) -> bytes:
        asked.append(n)
        return source.read(min(n, feed))

    return Gunzip(read_raw, max_chunk=1000), asked


@pytest.mark.parametrize("feed", [1, 7, 1 << 20])
def test_gunzip_reads_concatenated_members_in_bounded_pieces(feed: int) -> None:
    text = bytes(range(256)) * 40
    unzip, _ = reader_over(gzip.compress(text[:5000]) + gzip.compress(text[5000:]), feed)
    pieces = []
    while piece := unzip.read(3000):
        assert len(piece) <= 3000
        pieces.append(piece)
    assert b"".join(pieces) == text
    assert unzip.error is None


def test_gunzip_reads_all_when_asked_for_everything() -> None:
    unzip, _ = reader_over(gzip.compress(b"x" * 10_000), 100)
    assert unzip.read(-1) == b"x" * 10_000
    assert unzip.read(-1) == b""


def test_gunzip_damage_ends_the_stream_and_keeps_the_reason() -> None:
    packed = gzip.compress(b"hello world\n" * 1000)
    truncated, _ = reader_over(packed[: len(packed) - 4], 64)
    assert truncated.read(-1) == b"hello world\n" * 1000  # only the trailer is missing
    assert truncated.error == (
        "corrupt gzip stream: compressed file ended before the end-of-stream marker was reached"
    )
    garbage, _ = reader_over(b"not gzip at all", 64)
    assert garbage.read(-1) == b""
    assert garbage.error is not None and garbage.error.startswith("corrupt gzip stream: ")
    assert garbage.read(10) == b""  # stays ended


def test_gunzip_of_nothing_is_empty_not_damaged() -> None:
    unzip, _ = reader_over(b"", 64)
    assert unzip.read(-1) == b""
    assert unzip.error is None
