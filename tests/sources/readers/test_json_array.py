"""JSON array reader: one row per element, numbered by index; a bad file is one malformed row."""

from __future__ import annotations

from pathlib import Path

from tests.sources.readers.conftest import lines_of, rows, write
from trackline.sources.files import BAD_ENCODING


def test_json_array_elements_become_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "e.json", '[\n {"a": 1, "b": "é"},\n 2,\n {"c": [1, 2]}\n]')
    result = rows(path, 2)
    assert lines_of(result) == [
        (1, '{"a":1,"b":"é"}', None),
        (2, "2", None),
        (3, '{"c":[1,2]}', None),
    ]


def test_json_single_object_is_one_row(tmp_path: Path) -> None:
    assert lines_of(rows(write(tmp_path / "e.json", '\ufeff{"a": 1}'))) == [(1, '{"a":1}', None)]


def test_json_invalid_file_is_one_malformed_row(tmp_path: Path) -> None:
    text = '[{"a": 1},' + " " * 20_000 + "oops"
    [row] = rows(write(tmp_path / "e.json", text))
    assert row["_raw"] == text[:10_000]
    assert row["_malformed"].startswith("invalid JSON array: ")
    assert row["_source_line"] == 1


def test_json_scalar_document_is_one_malformed_row(tmp_path: Path) -> None:
    [row] = rows(write(tmp_path / "e.json", "42"))
    assert (row["_raw"], row["_malformed"]) == ("42", "expected a JSON array of objects")


def test_json_lines_file_named_json_gets_a_hint(tmp_path: Path) -> None:
    [row] = rows(write(tmp_path / "e.json", '{"a": 1}\n{"a": 2}\n'))
    assert row["_malformed"].startswith("invalid JSON array: Extra data")
    assert row["_malformed"].endswith(" (one object per line? name it .ndjson)")


def test_json_bad_encoding_element_is_malformed(tmp_path: Path) -> None:
    data = b'[{"a": "ok"}, {"a": "\xe9"}, {"\xff": 3}]'
    assert lines_of(rows(write(tmp_path / "e.json", data))) == [
        (1, '{"a":"ok"}', None),
        (2, '{"a":"\ufffd"}', BAD_ENCODING),
        (3, '{"\ufffd":3}', BAD_ENCODING),
    ]
