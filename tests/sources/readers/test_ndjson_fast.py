"""The fast NDJSON read's two helpers: the line scan (fed by the hash) and the line picker."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackline.sources.files import BAD_ENCODING
from trackline.sources.readers import ndjson_fast
from trackline.sources.readers.ndjson_fast import LinePicker, LineScan


def scan(data: bytes, chunk: int = 3) -> LineScan:
    s = LineScan()
    for i in range(0, len(data), chunk):
        s.write(memoryview(data)[i : i + chunk])
    return s


@pytest.mark.parametrize("chunk", [1, 2, 5, 1 << 20])
def test_a_plain_file_reads_fast_and_its_lines_are_counted(chunk: int) -> None:
    data = b'{"a":1}\n{"a":2}\r\n{"a":3}'
    s = scan(data, chunk)
    assert s.fast and s.lines == 3
    assert scan(data + b"\n", chunk).lines == 3


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1}\n\n{"a":2}\n',  # empty line
        b'{"a":1}\n  \n{"a":2}\n',  # blank line
        b'{"a":1}\n\r\n',  # CRLF blank line
        b'\n{"a":1}\n',  # blank first line
        b'{"a":1}\n \t',  # blank last line, no newline
        b'{"a":1}\n {"a":2}\n',  # a record after a blank: conservative
        b'\xef\xbb\xbf{"a":1}\n',  # byte-order mark
        b'{"a":1}\n\x0b{"a":2}\n',  # vertical tab (DuckDB skips it, JSON does not)
        b'{"a":"\x0c"}\n',  # form feed
        b"",  # empty file
    ],
)
def test_files_duckdb_could_read_differently_take_the_general_path(data: bytes) -> None:
    for chunk in (1, 4, 1 << 20):
        assert not scan(data, chunk).fast


def test_line_ends_are_found_among_tabs_and_control_bytes_in_a_reused_buffer() -> None:
    """The scan reads each chunk in place, as `hashing.update_from` gives it: one buffer
    that the next read overwrites. Tabs and other low bytes inside a line are not line ends."""
    lines = [b'{"a":"x\ty"}', b'{"b":\t1}', b'{"c":"\x01\x00"}', b'{"d":"' + b"z" * 50 + b'"}']
    data = b"\n".join(lines * 7) + b"\n"
    expected = [i for i, byte in enumerate(data) if byte == 10]
    for chunk in (1, 3, 16, 1 << 20):
        s, buf = LineScan(), bytearray(chunk)
        for i in range(0, len(data), chunk):
            part = data[i : i + chunk]
            buf[: len(part)] = part
            s.write(memoryview(buf)[: len(part)])
            buf[:] = b"\n" * chunk  # the caller's next read: nothing of it may count
        assert s.fast and s.lines == len(expected) and s.size == len(data)
        assert s.newline_offsets(0, len(expected)).tolist() == expected
        s.close()


def test_the_picker_reads_chosen_lines_by_the_spooled_line_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [f'{{"n":{i}}}'.encode() for i in range(1, 40)]
    lines[9] = b'{"n":"\xff"}'  # not UTF-8
    lines[19] += b"\r"  # CRLF
    lines[29] = b'{"n":"' + b"x" * 40 + b'"}'  # over the (shrunk) line limit
    path = tmp_path / "f.ndjson"
    path.write_bytes(b"\n".join(lines))  # the last line has no newline
    monkeypatch.setattr(ndjson_fast, "MAX_LINE_BYTES", 30)
    monkeypatch.setattr(ndjson_fast, "RAW_TEXT_LIMIT", 8)
    s = scan(path.read_bytes(), chunk=7)
    assert s.fast and s.lines == 39
    picker = LinePicker(str(path), s)
    texts, reasons = picker.take([1, 10, 20, 30])
    assert texts.to_pylist() == ['{"n":1}', '{"n":"\ufffd"}', '{"n":20}', '{"n":"xx']
    assert reasons.to_pylist() == [None, BAD_ENCODING, None, "line longer than 30 bytes"]
    texts, reasons = picker.take([2, 20, 39])  # all UTF-8: checked in one pass
    assert texts.to_pylist() == ['{"n":2}', '{"n":20}', '{"n":39}']
    assert reasons.to_pylist() == [None, None, None]
    assert [len(a) for a in picker.take([])] == [0, 0]
    for bad in ([40], [0], [5, 3]):
        with pytest.raises(LookupError):
            picker.take(bad)
    picker.close()
    s.close()
