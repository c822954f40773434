"""NDJSON reader: one row per non-blank line, physical line numbers, across block boundaries."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from tests.sources.readers.conftest import META, event, lines_of, one, rows, write
from trackline.contracts.kernel import Kernel
from trackline.contracts.loader import ContractRegistry
from trackline.sources.files import BAD_ENCODING, read_batches
from trackline.sources.readers import ndjson


def test_ndjson_rows_carry_file_and_physical_line(tmp_path: Path) -> None:
    path = write(tmp_path / "e.ndjson", '{"a":1}\nnot json\n{"a":3}')  # no final newline
    f = one(path)
    reader = read_batches(f)
    assert reader.schema.names == META
    assert reader.schema.field("_source_line").type == pa.int64()
    result = reader.read_all().to_pylist()
    assert lines_of(result) == [(1, '{"a":1}', None), (2, "not json", None), (3, '{"a":3}', None)]
    assert {r["_source_file"] for r in result} == {f.uri}


def test_ndjson_crlf_bom_and_blank_lines(tmp_path: Path) -> None:
    data = b'\xef\xbb\xbf{"a":1}\r\n\r\n   \n\t \r\n{"a":2}\r\n\n{"a":3}\r'
    result = rows(write(tmp_path / "e.ndjson", data))
    assert lines_of(result) == [(1, '{"a":1}', None), (5, '{"a":2}', None), (7, '{"a":3}', None)]


def test_ndjson_only_one_trailing_cr_is_stripped(tmp_path: Path) -> None:
    result = rows(write(tmp_path / "e.ndjson", b'{"a":"x\r"}\r\n'))
    assert result[0]["_raw"] == '{"a":"x\r"}'


def test_ndjson_invalid_utf8_line_is_malformed_and_neighbours_survive(tmp_path: Path) -> None:
    data = '{"a":"é"}\n'.encode() + b'{"a":"\xe9"}\n' + '{"a":"ü"}\n\n'.encode()
    result = rows(write(tmp_path / "e.ndjson", data))
    assert lines_of(result) == [
        (1, '{"a":"é"}', None),
        (2, '{"a":"\ufffd"}', BAD_ENCODING),
        (3, '{"a":"ü"}', None),
    ]


def reference_lines(data: bytes) -> list[tuple[int, str]]:
    """What the reader must return, computed the slow obvious way."""
    out = []
    for i, line in enumerate(data.split(b"\n"), start=1):
        text = line.decode().removesuffix("\r")
        if text.strip(" \t\r"):
            out.append((i, text))
    return out


@pytest.mark.parametrize("block_bytes", [1, 7, 100, 333, 1 << 20])
def test_ndjson_lines_straddling_blocks_are_exact(tmp_path: Path, block_bytes: int) -> None:
    lines = []
    for i in range(200):
        pad = "x" * (i * 37 % 250)  # some lines are longer than the small blocks
        lines.append("" if i % 17 == 0 else json.dumps({"i": i, "pad": pad}))
    data = "\n".join(lines).encode()
    path = write(tmp_path / "e.ndjson", data)
    result = rows(path, 50, block_bytes=block_bytes)
    assert [(r["_source_line"], r["_raw"]) for r in result] == reference_lines(data)


def test_ndjson_three_blocks(tmp_path: Path) -> None:
    data = "".join(json.dumps(event(i)) + "\n" for i in range(30)).encode()
    block = len(data) // 3 + 1
    assert data[block - 1] != ord("\n") and data[2 * block - 1] != ord("\n")  # cuts mid-line
    result = rows(write(tmp_path / "e.ndjson", data), block_bytes=block)
    assert [(r["_source_line"], r["_raw"]) for r in result] == reference_lines(data)
    assert len(result) == 30


def test_ndjson_batches_are_bounded_and_share_one_schema(tmp_path: Path) -> None:
    data = "".join(f'{{"i":{i}}}\n' for i in range(1000)).encode()
    reader = read_batches(one(write(tmp_path / "e.ndjson", data)), 64, block_bytes=500)
    batches = list(reader)
    sizes = [b.num_rows for b in batches]
    assert sum(sizes) == 1000
    assert max(sizes) <= 64
    assert all(size == 64 for size in sizes[:-1])
    assert {b.schema for b in batches} == {reader.schema}


def test_ndjson_over_long_line_is_one_malformed_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ndjson, "MAX_LINE_BYTES", 50)
    data = b'{"a":1}\n' + b"y" * 500 + b'\n{"a":3}\n'
    result = rows(write(tmp_path / "e.ndjson", data), block_bytes=16)
    assert [(r["_source_line"], r["_malformed"] is not None) for r in result] == [
        (1, False),
        (2, True),
        (3, False),
    ]
    assert result[1]["_raw"].startswith("yyy")
    assert "longer than" in result[1]["_malformed"]


@pytest.mark.parametrize("block_bytes", [7, 16])
def test_ndjson_over_long_last_line_and_bom_only_on_line_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block_bytes: int
) -> None:
    monkeypatch.setattr(ndjson, "MAX_LINE_BYTES", 50)
    data = b'\xef\xbb\xbf{"a":1}\n\xef\xbb\xbf{"a":2}\n' + b"z" * 80  # no final newline
    result = rows(write(tmp_path / "e.ndjson", data), block_bytes=block_bytes)
    assert [(r["_source_line"], r["_malformed"]) for r in result] == [
        (1, None),
        (2, None),
        (3, "line longer than 50 bytes"),
    ]
    assert result[1]["_raw"] == '\ufeff{"a":2}'  # a mark inside the file is content
    assert set(result[2]["_raw"]) == {"z"}  # the head read before the bound was passed
    assert 50 < len(result[2]["_raw"]) <= 80


def test_ndjson_line_bound_applies_to_lines_carried_across_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a line inside one block is already bounded by the block; only carried lines are cut
    monkeypatch.setattr(ndjson, "MAX_LINE_BYTES", 50)
    data = b'{"a":1}\n' + b"z" * 80 + b"\n"
    [_, whole] = rows(write(tmp_path / "e.ndjson", data), block_bytes=1 << 20)
    assert (whole["_raw"], whole["_malformed"]) == ("z" * 80, None)


def test_ndjson_short_and_long_lines_keep_their_text(tmp_path: Path) -> None:
    # values of at most 12 bytes sit inside the view, longer ones point into the block
    texts = ["{}", '{"a":12345}', '{"a":123456}', '{"abc":"' + "é" * 40 + '"}', "[" * 13]
    data = "\n".join(texts).encode()
    for block_bytes in (3, 13, 1 << 20):
        result = rows(write(tmp_path / "e.ndjson", data), block_bytes=block_bytes)
        assert [r["_raw"] for r in result] == texts


def test_ndjson_empty_and_blank_only_files_have_no_rows(tmp_path: Path) -> None:
    for data in [b"", b"\n", b"\r\n \t\n", b"\xef\xbb\xbf"]:
        reader = read_batches(one(write(tmp_path / "e.ndjson", data)))
        assert reader.schema.names == META
        assert reader.read_all().num_rows == 0


def test_ndjson_every_block_with_bad_encoding_is_found(tmp_path: Path) -> None:
    good = [json.dumps(event(i)) for i in range(40)]
    data = "\n".join(good).encode().replace(b'"s7"', b'"s\xff7"').replace(b'"s33"', b'"s\xc333"')
    result = rows(write(tmp_path / "e.ndjson", data), block_bytes=300)
    bad = [(r["_source_line"], r["_malformed"]) for r in result if r["_malformed"]]
    assert bad == [(8, BAD_ENCODING), (34, BAD_ENCODING)]
    assert len(result) == 40
    assert "\ufffd" in result[7]["_raw"]


def test_kernel_accounts_for_every_non_blank_line(tmp_path: Path) -> None:
    lines = [json.dumps(event(i)) for i in range(300)]
    lines[5] = "{not json"
    lines[9] = json.dumps(event(9, event_type="dance"))
    lines[20] = ""
    lines[21] = "   "
    lines[40] = json.dumps(event(39))  # a duplicate key of line 40
    lines[77] = "[1, 2]"
    raw = "\r\n".join(lines).encode()
    raw = raw.replace(b'"s100"', b'"s\xff100"')  # one line with bad encoding
    path = write(tmp_path / "e.ndjson", raw)
    non_blank = sum(1 for line in lines if line.strip())

    kernel = Kernel(ContractRegistry().get("listening_events"))
    valid = rejected = duplicates = 0
    reasons: dict[str, int] = {}
    for batch in read_batches(one(path), 64, block_bytes=1000):
        out = kernel.run(batch)
        valid += out.valid.num_rows
        rejected += out.rejected.num_rows
        duplicates += out.duplicates
        for k, v in out.reasons.items():
            reasons[k] = reasons.get(k, 0) + v
    assert valid + rejected + duplicates == non_blank
    assert reasons["malformed"] == 3  # invalid JSON, not an object, bad encoding
    assert reasons["enum:event_type"] == 1
    assert duplicates == 1
