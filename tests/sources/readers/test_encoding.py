"""Encoding: lines that are not UTF-8 become replaced text with a reason, the rest unchanged."""

from __future__ import annotations

import pyarrow as pa

from trackline.sources.readers.encoding import BAD_ENCODING, decode_lines


def test_decode_lines_marks_only_the_bad_lines() -> None:
    lines = pa.array([b"ok", "é".encode(), b"\xe9t\xe9", b""], pa.binary_view())
    text, reasons = decode_lines(lines)
    assert text.type == pa.string() and reasons.type == pa.string()
    assert text.to_pylist() == ["ok", "é", "\ufffdt\ufffd", ""]
    assert reasons.to_pylist() == [None, None, BAD_ENCODING, None]
