"""Mutation checks for the kernel: flip one rule of a contract and the outcome must change in
exactly the rows that rule decides, and nowhere else.

A kernel that ignored a check, applied it to the wrong field or decided it the other way
round would leave the outcome unchanged, or change it in other rows: either fails here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from trackline.contracts.kernel import Kernel
from trackline.contracts.loader import parse_contract

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

BASE = """\
name: items
version: 1
primary_key: [id]
fields:
  id:   {type: string, required: true}
  n:    {type: int64, min: 0, max: 100}
  at:   {type: timestamp, not_future: true}
  code: {type: string, normalize: upper_trim, pattern: "^[A-Z]{2}$"}
  kind: {type: string, normalize: lower_trim, enum: [a, b]}
  note: {type: string}
  lo:   {type: int64}
  hi:   {type: int64}
rules:
  lo_le_hi: lo <= hi
"""

# Each row has its own id; its name says what it holds.
ROWS: list[dict[str, Any]] = [
    {"id": "plain"},
    {"id": "n_0", "n": 0},
    {"id": "n_5", "n": 5},
    {"id": "n_10", "n": 10},
    {"id": "n_100", "n": 100},
    {"id": "n_neg", "n": -1},
    {"id": "code_us", "code": " us "},
    {"id": "code_usa", "code": "USA"},
    {"id": "kind_a", "kind": "A"},
    {"id": "kind_b", "kind": "b"},
    {"id": "kind_c", "kind": "c"},
    {"id": "lo_lt_hi", "lo": 1, "hi": 2},
    {"id": "lo_eq_hi", "lo": 2, "hi": 2},
    {"id": "lo_gt_hi", "lo": 3, "hi": 2},
    {"id": "lo_only", "lo": 3},
    {"id": "past", "at": "2026-01-15T11:00:00Z"},
    {"id": "future", "at": "2026-01-16T12:00:00Z"},
    {"id": "no_note", "note": None},
    {"id": "noted", "note": "x"},
]


def outcome(yaml: str, rows: list[dict[str, Any]] = ROWS) -> dict[str, Any]:
    """Each row's fate by id: "valid", "duplicate" or its reasons."""
    lines = [json.dumps(r) for r in rows]
    table = pa.table({"_raw": lines, "_source_line": list(range(1, len(lines) + 1))})
    kernel = Kernel(parse_contract(yaml, "items.yaml"))
    try:
        res = kernel.run(table, now=NOW)
    finally:
        kernel.close()
    fate: dict[str, Any] = {r["id"]: "valid" for r in res.valid.to_pylist()}
    for r in res.rejected.to_pylist():
        fate[json.loads(r["record"])["id"]] = tuple(r["reasons"])
    for r in rows:
        fate.setdefault(r["id"], "duplicate")
    assert res.total == len(rows)
    return fate


def changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {k: (before[k], after[k]) for k in before if before[k] != after[k]}


def test_the_unmutated_contract_decides_every_row() -> None:
    fate = outcome(BASE)
    rejected = {k: v for k, v in fate.items() if v != "valid"}
    assert rejected == {
        "n_neg": ("min:n",),
        "code_usa": ("pattern:code",),
        "kind_c": ("enum:kind",),
        "lo_gt_hi": ("rule:lo_le_hi",),
        "future": ("not_future:at",),
    }


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # a minimum raised: the rows between the two now fall below it
        ("min: 0", "min: 10", {"n_0": ("min:n",), "n_5": ("min:n",)}),
        # a minimum removed: the row below the old one is valid
        ("min: 0, max: 100", "max: 100", {"n_neg": "valid"}),
        # a maximum lowered to the minimum: every row above it
        ("max: 100", "max: 0", {"n_5": ("max:n",), "n_10": ("max:n",), "n_100": ("max:n",)}),
        # a rule negated: true and false swap; a rule that cannot be decided (NULL) still passes
        (
            "lo_le_hi: lo <= hi",
            "lo_le_hi: NOT (lo <= hi)",
            {
                "lo_lt_hi": ("rule:lo_le_hi",),
                "lo_eq_hi": ("rule:lo_le_hi",),
                "lo_gt_hi": "valid",
            },
        ),
        # a strict comparison instead of <=: only the equal pair changes
        ("lo_le_hi: lo <= hi", "lo_le_hi: lo < hi", {"lo_eq_hi": ("rule:lo_le_hi",)}),
        # an allowed value taken away: its rows are rejected, normalised ones included
        ("enum: [a, b]", "enum: [b]", {"kind_a": ("enum:kind",)}),
        # the pattern widened: the three-letter code passes
        ('pattern: "^[A-Z]{2}$"', 'pattern: "^[A-Z]{2,3}$"', {"code_usa": "valid"}),
        # not_future dropped: the future row is valid
        (
            "at:   {type: timestamp, not_future: true}",
            "at:   {type: timestamp}",
            {"future": "valid"},
        ),
        # a field made required: every row without it (missing or null) is rejected for it
        # too, after its fields' other reasons and before the rules'
        (
            "note: {type: string}",
            "note: {type: string, required: true}",
            {
                **{r["id"]: ("required:note",) for r in ROWS if r["id"] != "noted"},
                "n_neg": ("min:n", "required:note"),
                "code_usa": ("pattern:code", "required:note"),
                "kind_c": ("enum:kind", "required:note"),
                "future": ("not_future:at", "required:note"),
                "lo_gt_hi": ("required:note", "rule:lo_le_hi"),
            },
        ),
    ],
    ids=[
        "min-raised",
        "min-removed",
        "max-lowered",
        "rule-negated",
        "rule-strict",
        "enum-narrowed",
        "pattern-widened",
        "not-future-dropped",
        "made-required",
    ],
)
def test_a_flipped_rule_changes_exactly_the_rows_it_decides(
    old: str, new: str, expected: dict[str, Any]
) -> None:
    assert old in BASE
    before, after = outcome(BASE), outcome(BASE.replace(old, new))
    assert {k: a for k, (_, a) in changed(before, after).items()} == expected


def test_a_wider_primary_key_turns_repeats_into_rows() -> None:
    rows = [
        {"id": "a", "n": 1},
        {"id": "a", "n": 1},
        {"id": "a", "n": 2},
        {"id": "b", "n": 1},
    ]
    for r, tag in zip(rows, ["first", "exact", "other_n", "b"], strict=True):
        r["note"] = tag
    lines = [json.dumps(r) for r in rows]
    table = pa.table({"_raw": lines, "_source_line": list(range(1, len(lines) + 1))})

    def kept(yaml: str) -> tuple[list[str], int]:
        kernel = Kernel(parse_contract(yaml, "items.yaml"))
        try:
            res = kernel.run(table, now=NOW)
        finally:
            kernel.close()
        return sorted(res.valid.column("note").to_pylist()), res.duplicates

    # by id, the first of each key is kept and the rest counted as duplicates
    assert kept(BASE) == (["b", "first"], 2)
    # by (id, n), only the exact repeat is a duplicate
    assert kept(BASE.replace("primary_key: [id]", "primary_key: [id, n]")) == (
        ["b", "first", "other_n"],
        1,
    )
