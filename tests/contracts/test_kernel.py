"""The kernel's semantics, edge cases included, decided once for every engine."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from trackline.contracts.kernel import Kernel
from trackline.contracts.loader import builtin_contracts, parse_contract

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

CONTRACT = parse_contract(
    """\
name: items
version: 1
primary_key: [id]
fields:
  id:     {type: string, required: true}
  n:      {type: int64, min: 0, max: 100}
  x:      {type: float64}
  flag:   {type: bool}
  at:     {type: timestamp, not_future: true}
  day:    {type: date}
  code:   {type: string, normalize: upper_trim, pattern: "^[A-Z]{2}$"}
  kind:   {type: string, normalize: lower_trim, enum: [a, b]}
  lo:     {type: int64}
  hi:     {type: int64}
rules:
  lo_le_hi: lo <= hi
derived:
  n_half: n / 2
""",
    "items.yaml",
)


def run_json(rows: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    table = pa.table({"_raw": lines, "_source_line": list(range(1, len(lines) + 1))})
    res = Kernel(CONTRACT).run(table, now=NOW)
    assert res.total == len(lines)
    return res.valid.to_pylist(), res.rejected.to_pylist(), res.duplicates


def reasons_of(record: dict[str, Any]) -> list[str]:
    _, rejected, _ = run_json([record])
    return rejected[0]["reasons"] if rejected else []


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("12", True),
        (12, True),
        (" 7 ", True),
        ("\t7\r\n", True),
        ("+3", True),
        ("1 2", False),
        ("7\u000b", False),
        (" ", True),
        ("1e3", False),
        ("1_000", False),
        ("2.0", False),
        (2.5, False),
        ("abc", False),
        (True, False),
    ],
)
def test_int_parsing_is_strict(value: Any, ok: bool) -> None:
    assert (reasons_of({"id": "a", "n": value}) == []) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("1.5", True),
        ("1e3", True),
        (".5", True),
        (-2, True),
        ("NaN", False),
        ("inf", False),
        ("1e999", False),
        ("1,5", False),
        (" 1.5\t", True),
        ("1. 5", False),
    ],
)
def test_float_parsing(value: Any, ok: bool) -> None:
    assert (reasons_of({"id": "a", "x": value}) == []) is ok


def test_whitespace_and_blank_strings() -> None:
    valid, rejected, _ = run_json(
        [
            {"id": "a", "code": "\tus \r\n", "kind": " A\t"},
            {"id": " \t\n"},
            {"id": "b", "code": "usa"},
        ]
    )
    assert valid[0]["code"] == "US" and valid[0]["kind"] == "a"
    assert rejected[0]["reasons"] == ["required:id"]
    assert rejected[1]["reasons"] == ["pattern:code"]


def test_unnormalised_strings_keep_their_blanks_and_blank_is_missing() -> None:
    valid, rejected, _ = run_json(
        [
            {"id": " a\t"},
            {"id": "\u000b"},  # not one of the blanks trim removes: a value
            {"id": ""},
            {"id": None},
            {"id": "\r\n"},
        ]
    )
    assert [v["id"] for v in valid] == [" a\t", "\u000b"]
    assert [r["reasons"] for r in rejected] == [["required:id"]] * 3


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2026-01-15T11:00:00Z", True),
        (" 2026-01-15T11:00:00Z\t", True),
        ("\r\n2026-01-15 11:00:00", True),
        (" epoch", False),
        ("\tnow", False),
        ("infinity", False),
        ("   ", True),  # blank: missing, and `at` is optional
    ],
)
def test_timestamps_allow_blanks_around(value: str, ok: bool) -> None:
    assert (reasons_of({"id": "a", "at": value}) == []) is ok


def test_checks_report_every_failure() -> None:
    reasons = reasons_of(
        {
            "id": "a",
            "n": 101,
            "kind": "c",
            "lo": 5,
            "hi": 1,
            "at": "2026-01-16T00:00:00Z",
            "flag": "maybe",
            "day": "15/01/2026",
        }
    )
    assert sorted(reasons) == [
        "enum:kind",
        "max:n",
        "not_future:at",
        "rule:lo_le_hi",
        "type:day",
        "type:flag",
    ]
    assert reasons_of({"id": "a", "n": -1}) == ["min:n"]


def test_time_parsing_and_tolerance() -> None:
    valid, rejected, _ = run_json(
        [
            {"id": "a", "at": "2026-01-15T12:04:00Z", "day": "2026-01-01"},  # inside 5 min skew
            {"id": "b", "at": "2026-01-15 13:00:00+02:00"},  # 11:00 UTC
            {"id": "c", "at": "2026-01-15T12:06:00Z"},
            {"id": "d", "at": "yesterday"},
        ]
    )
    assert [v["id"] for v in valid] == ["a", "b"]
    assert valid[1]["at"] == datetime(2026, 1, 15, 11, 0, tzinfo=UTC)
    assert [r["reasons"] for r in rejected] == [["not_future:at"], ["type:at"]]


def test_malformed_lines_keep_their_text() -> None:
    valid, rejected, _ = run_json(
        ['{"id": "a"', "[1, 2]", "null", '{"id": "ok"}', ' \t{"id": "ok2"}', ' "{"']
    )
    assert [v["id"] for v in valid] == ["ok", "ok2"]
    assert [(r["record"], r["reasons"], r["detail"]) for r in rejected] == [
        ('{"id": "a"', ["malformed"], "invalid JSON"),
        ("[1, 2]", ["malformed"], "not a JSON object"),
        ("null", ["malformed"], "not a JSON object"),
        (' "{"', ["malformed"], "not a JSON object"),
    ]
    assert [r["source_line"] for r in rejected] == [1, 2, 3, 6]


def test_rules_with_missing_values_pass_and_derived_computed() -> None:
    valid, _, _ = run_json([{"id": "a", "lo": 5}, {"id": "b", "n": 9}])
    assert [v["n_half"] for v in valid] == [None, 4.5]


def test_duplicates_keep_first_and_are_counted() -> None:
    valid, rejected, dups = run_json(
        [{"id": "a", "n": 1}, {"id": "a", "n": 2}, {"id": "b"}, {"id": "a", "n": -5}]
    )
    assert [(v["id"], v["n"]) for v in valid] == [("a", 1), ("b", None)]
    assert dups == 1 and len(rejected) == 1


def test_columns_shape_typed_and_text_inputs_agree() -> None:
    typed = pa.table(
        {
            "id": ["a", "b"],
            "n": pa.array([3, 200], pa.int32()),
            "x": [1.5, float("nan")],
            "at": pa.array([datetime(2026, 1, 1), datetime(2026, 1, 2)], pa.timestamp("ms")),
        }
    )
    text = pa.table(
        {
            "id": ["a", "b"],
            "n": ["3", "200"],
            "x": ["1.5", "NaN"],
            "at": ["2026-01-01 00:00:00", "2026-01-02 00:00:00"],
        }
    )
    k = Kernel(CONTRACT)
    r1, r2 = k.run(typed, now=NOW), k.run(text, now=NOW)
    assert r1.valid.to_pylist() == r2.valid.to_pylist()
    assert (
        r1.rejected["reasons"].to_pylist()
        == r2.rejected["reasons"].to_pylist()
        == [["max:n", "type:x"]]
    )
    # the record as received is kept for rejected rows of column inputs too
    assert json.loads(r2.rejected["record"][0].as_py())["n"] == "200"


def test_float_for_int_column_must_be_whole() -> None:
    res = Kernel(CONTRACT).run(pa.table({"id": ["a", "b"], "n": [3.0, 3.5]}), now=NOW)
    assert res.valid["n"].to_pylist() == [3]
    assert res.rejected["reasons"].to_pylist() == [["type:n"]]


def test_every_builtin_compiles_for_both_shapes() -> None:
    for c in builtin_contracts().values():
        k = Kernel(c)
        empty_json = pa.table({"_raw": pa.array([], pa.string())})
        assert k.run(empty_json, now=NOW).total == 0
        cols = pa.table({f: pa.array([None], pa.string()) for f in c.fields})
        res = k.run(cols, now=NOW)
        assert res.rejected.num_rows == 1 and res.rejected["reasons"][0].as_py()
