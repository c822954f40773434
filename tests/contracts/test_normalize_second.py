"""`normalize: second`: a timestamp stored to the whole second, whatever the input's precision
or shape (text with milliseconds, an offset, or a typed Arrow timestamp)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from trackline.contracts.kernel import Kernel
from trackline.contracts.loader import parse_contract
from trackline.errors import ContractError

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
CONTRACT = parse_contract(
    """\
name: plays
version: 1
primary_key: [id, at]
fields:
  id: {type: string, required: true}
  at: {type: timestamp, required: true, normalize: second}
  raw_at: {type: timestamp}
""",
    "plays.yaml",
)


def test_text_timestamps_are_truncated_to_the_second_and_keys_meet() -> None:
    rows = [
        {"id": "a", "at": "2025-03-01T10:00:00.987Z", "raw_at": "2025-03-01T10:00:00.987Z"},
        {"id": "a", "at": "2025-03-01T10:00:00Z"},  # the same play at export precision
        {"id": "b", "at": "2025-03-01T12:00:01.5+02:00"},
    ]
    table = pa.table({"_raw": [json.dumps(r) for r in rows], "_source_line": [1, 2, 3]})
    res = Kernel(CONTRACT).run(table, now=NOW)
    valid = res.valid.to_pylist()
    assert res.duplicates == 1 and len(valid) == 2
    first = next(v for v in valid if v["id"] == "a")
    assert first["at"] == datetime(2025, 3, 1, 10, 0, 0, tzinfo=UTC)
    assert first["raw_at"].microsecond == 987000  # a field without normalize keeps its precision
    b = next(v for v in valid if v["id"] == "b")
    assert b["at"] == datetime(2025, 3, 1, 10, 0, 1, tzinfo=UTC)


def test_typed_timestamps_are_truncated_too() -> None:
    at = datetime(2025, 3, 1, 10, 0, 0, 654321, tzinfo=UTC)
    table = pa.table(
        {"id": ["a"], "at": pa.array([at], pa.timestamp("us", tz="UTC")), "_source_line": [1]}
    )
    res = Kernel(CONTRACT).run(table, now=NOW)
    assert res.valid.to_pylist()[0]["at"] == at.replace(microsecond=0)


def test_second_only_on_timestamps() -> None:
    bad = "name: x\nversion: 1\nfields:\n  n: {type: string, normalize: second}\n"
    with pytest.raises(ContractError, match="non-timestamp"):
        parse_contract(bad, "x.yaml")
