"""The quality profile against a small table whose statistics are worked out by hand."""

from __future__ import annotations

import json
import statistics
from typing import Any

import duckdb
import pytest

from trackline.contracts.loader import ContractRegistry, parse_contract
from trackline.contracts.spec import Contract
from trackline.core import duck
from trackline.errors import QueryError
from trackline.quality.profile import jsonable, kind_of, profile

CONTRACT = """
name: plays
version: 3
fields:
  user_id:   {type: string, required: true}
  genre:     {type: string}
  country:   {type: string}
  minutes:   {type: float64}
  plays:     {type: int64}
  played_at: {type: timestamp}
  day:       {type: date}
  skipped:   {type: bool}
derived:
  double_minutes: minutes * 2
slices: [genre, country]
metrics: [minutes]
"""

# user_id, genre, country, minutes, plays, played_at, day, skipped
ROWS: list[tuple[Any, ...]] = [
    ("u1", "rock", "US", 1.0, 1, "2024-01-05 10:00:00+00", "2024-01-05", True),
    ("u1", "rock", "US", 2.0, 2, "2024-01-02 08:30:00+00", "2024-01-02", False),
    ("u2", "rock", "GB", 3.0, 3, "2024-01-03 00:00:00+00", "2024-01-03", True),
    ("u2", "rock", "GB", 4.0, None, "2024-01-04 00:00:00+00", "2024-01-04", None),
    ("u3", "pop", "US", 5.0, 5, "2024-01-06 00:00:00+00", "2024-01-06", False),
    ("u3", "pop", "US", 6.0, 6, "2024-01-07 00:00:00+00", "2024-01-07", False),
    ("u3", "pop", None, None, 7, "2024-01-08 00:00:00+00", "2024-01-08", True),
    ("u4", "jazz", "US", 8.0, 8, "2024-01-09 00:00:00+00", "2024-01-09", True),
    ("u5", None, "US", 9.0, 9, "2024-01-10 00:00:00+00", "2024-01-10", False),
    ("u6", None, None, 10.0, 10, "2024-01-11 23:59:59+00", "2023-12-31", False),
]
RELATION = "(SELECT * FROM main.plays WHERE run_id = $run_id)"
PARAMS = {"run_id": "r1"}


def build(con: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]]) -> None:
    """The warehouse table as the engine would create it, with a second run to filter out."""
    con.execute(
        "CREATE TABLE plays (user_id VARCHAR, genre VARCHAR, country VARCHAR, minutes DOUBLE, "
        "plays BIGINT, played_at TIMESTAMPTZ, day DATE, skipped BOOLEAN, "
        "double_minutes DOUBLE, run_id VARCHAR)"
    )
    for row in rows:
        con.execute(
            "INSERT INTO plays VALUES (?, ?, ?, ?, ?, ?, ?, ?, ? * 2, 'r1')", [*row, row[3]]
        )
    con.execute(
        "INSERT INTO plays VALUES ('u9', 'metal', 'FR', 100, 100, '2030-01-01', '2030-01-01', "
        "true, 200, 'r2')"
    )


@pytest.fixture
def contract() -> Contract:
    return parse_contract(CONTRACT, "test.yaml")


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duck.connect()
    build(c, ROWS)
    return c


@pytest.fixture
def report(con: duckdb.DuckDBPyConnection, contract: Contract) -> dict[str, Any]:
    return profile(
        con,
        RELATION,
        contract,
        rejected_by_reason={"required:user_id": 2, "min:plays": 1},
        rejected_rows=3,
        duplicates=4,
        params=PARAMS,
    )


def test_counts_come_from_the_run_only(report: dict[str, Any]) -> None:
    assert report["rows"] == 10  # the r2 row is not counted
    assert report["rejected_rows"] == 3
    assert report["duplicates"] == 4
    assert report["rejected_by_reason"] == {"required:user_id": 2, "min:plays": 1}
    assert report["dataset"] == "plays"
    assert report["contract_version"] == 3


def test_every_output_column_in_contract_order(report: dict[str, Any], contract: Contract) -> None:
    assert list(report["columns"]) == contract.output_columns
    cols = report["columns"]
    assert cols["minutes"]["type"] == "float64"
    assert cols["minutes"]["derived"] is False
    assert cols["double_minutes"]["type"] == "DOUBLE"  # derived: the DuckDB type
    assert cols["double_minutes"]["derived"] is True
    assert all(c["distinct_is_approx"] is True for c in cols.values())


def test_null_pct_and_distinct(report: dict[str, Any]) -> None:
    cols = report["columns"]
    assert cols["genre"]["null_pct"] == 20.0
    assert cols["genre"]["non_null"] == 8
    assert cols["genre"]["distinct"] == 3
    assert cols["country"]["null_pct"] == 20.0
    assert cols["country"]["distinct"] == 2
    assert cols["user_id"]["null_pct"] == 0.0
    assert cols["user_id"]["distinct"] == 6
    assert cols["minutes"]["null_pct"] == 10.0
    assert cols["plays"]["null_pct"] == 10.0
    assert cols["skipped"]["null_pct"] == 10.0
    assert cols["minutes"]["distinct"] == 9


def test_numeric_statistics(report: dict[str, Any]) -> None:
    minutes = [r[3] for r in ROWS if r[3] is not None]
    m = report["columns"]["minutes"]
    assert m["min"] == 1.0
    assert m["max"] == 10.0
    assert m["mean"] == pytest.approx(48 / 9)
    assert m["stddev"] == pytest.approx(statistics.stdev(minutes))
    p = report["columns"]["plays"]
    assert (p["min"], p["max"]) == (1, 10)
    assert isinstance(p["min"], int)
    assert p["mean"] == pytest.approx(51 / 9)
    d = report["columns"]["double_minutes"]
    assert d["mean"] == pytest.approx(96 / 9)
    assert d["max"] == 20.0


def test_temporal_min_max_are_iso_text(report: dict[str, Any]) -> None:
    ts = report["columns"]["played_at"]
    assert ts["min"] == "2024-01-02T08:30:00+00:00"
    assert ts["max"] == "2024-01-11T23:59:59+00:00"
    assert "mean" not in ts
    day = report["columns"]["day"]
    assert (day["min"], day["max"]) == ("2023-12-31", "2024-01-10")


def test_top_values_exact_ordered_and_capped_at_five(report: dict[str, Any]) -> None:
    cols = report["columns"]
    assert cols["genre"]["top_values"] == [
        {"value": "rock", "count": 4},
        {"value": "pop", "count": 3},
        {"value": "jazz", "count": 1},
    ]
    assert cols["country"]["top_values"] == [
        {"value": "US", "count": 6},
        {"value": "GB", "count": 2},
    ]
    # Six users; ties broken by value, so u6 (count 1, last by value) is the one left out.
    assert cols["user_id"]["top_values"] == [
        {"value": "u3", "count": 3},
        {"value": "u1", "count": 2},
        {"value": "u2", "count": 2},
        {"value": "u4", "count": 1},
        {"value": "u5", "count": 1},
    ]
    assert "top_values" not in cols["minutes"]


def test_bool_true_pct(report: dict[str, Any]) -> None:
    # 9 non-null values, 4 true.
    assert report["columns"]["skipped"]["true_pct"] == round(100 * 4 / 9, 2)


def test_report_is_strict_json(report: dict[str, Any]) -> None:
    assert json.loads(json.dumps(report, allow_nan=False)) == report


def test_empty_run(con: duckdb.DuckDBPyConnection, contract: Contract) -> None:
    out = profile(
        con,
        RELATION,
        contract,
        rejected_by_reason={},
        rejected_rows=0,
        duplicates=0,
        params={"run_id": "nope"},
    )
    assert out["rows"] == 0
    genre = out["columns"]["genre"]
    assert genre["null_pct"] is None
    assert genre["distinct"] == 0
    assert genre["top_values"] == []
    assert out["columns"]["minutes"]["mean"] is None


def test_non_finite_values_become_null(contract: Contract) -> None:
    con = duck.connect()
    build(con, [("u1", "rock", "US", float("inf"), 1, "2024-01-01", "2024-01-01", True)])
    out = profile(
        con, RELATION, contract, rejected_by_reason={}, rejected_rows=0, duplicates=0, params=PARAMS
    )
    assert out["columns"]["minutes"]["max"] is None
    assert out["columns"]["minutes"]["mean"] is None
    json.dumps(out, allow_nan=False)


def test_plain_table_relation_without_params(contract: Contract) -> None:
    con = duck.connect()
    build(con, ROWS)
    out = profile(con, "main.plays", contract, rejected_by_reason={}, rejected_rows=0, duplicates=0)
    assert out["rows"] == 11
    assert out["columns"]["genre"]["top_values"][0] == {"value": "rock", "count": 4}


def test_missing_column_is_named(contract: Contract) -> None:
    con = duck.connect()
    con.execute("CREATE TABLE plays (user_id VARCHAR, run_id VARCHAR)")
    with pytest.raises(QueryError, match="genre, country"):
        profile(
            con,
            RELATION,
            contract,
            rejected_by_reason={},
            rejected_rows=0,
            duplicates=0,
            params=PARAMS,
        )


def test_builtin_contract_with_quoted_names() -> None:
    """`timestamp` is a keyword: column names must be quoted."""
    c = ContractRegistry().get("feedback")
    con = duck.connect()
    con.execute(
        "CREATE TABLE fb (event_id VARCHAR, session_id VARCHAR, user_id VARCHAR, "
        'track_id VARCHAR, action VARCHAR, position_ms BIGINT, "timestamp" TIMESTAMPTZ, '
        "is_positive INTEGER)"
    )
    con.execute(
        "INSERT INTO fb VALUES ('e1', 's', 'u', 't', 'like', 5, '2024-01-01', 1), "
        "('e2', 's', 'u', 't', 'skip', NULL, '2024-01-02', 0)"
    )
    out = profile(con, "fb", c, rejected_by_reason={}, rejected_rows=0, duplicates=0)
    assert out["columns"]["timestamp"]["max"] == "2024-01-02T00:00:00+00:00"
    assert out["columns"]["is_positive"]["type"] == "INTEGER"
    assert out["columns"]["is_positive"]["mean"] == 0.5
    assert out["columns"]["position_ms"]["null_pct"] == 50.0


@pytest.mark.parametrize(
    ("duckdb_type", "kind"),
    [
        ("BIGINT", "numeric"),
        ("DECIMAL(18,3)", "numeric"),
        ("DOUBLE", "numeric"),
        ("TIMESTAMP WITH TIME ZONE", "temporal"),
        ("DATE", "temporal"),
        ("VARCHAR", "string"),
        ("BOOLEAN", "bool"),
        ("INTERVAL", "other"),
        ("VARCHAR[]", "other"),
    ],
)
def test_kind_of(duckdb_type: str, kind: str) -> None:
    assert kind_of(duckdb_type) == kind


def test_jsonable_decimal_and_nan() -> None:
    from datetime import date
    from decimal import Decimal

    assert jsonable(Decimal("1.50")) == 1.5
    assert jsonable(float("nan")) is None
    assert jsonable(date(2024, 2, 29)) == "2024-02-29"
    assert jsonable([Decimal("2"), None]) == [2.0, None]


def test_a_one_column_key_is_counted_exactly(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """Within a run's accepted rows a one-column key is unique: its distinct count is its
    count, with no sketch."""
    keyed = parse_contract(
        CONTRACT.replace("version: 3\n", "version: 3\nprimary_key: [played_at]\n"), "k.yaml"
    )
    cols = profile(
        con,
        RELATION,
        keyed,
        rejected_by_reason={},
        rejected_rows=0,
        duplicates=0,
        params=PARAMS,
    )["columns"]
    assert (cols["played_at"]["distinct"], cols["played_at"]["distinct_is_approx"]) == (10, False)
    assert cols["genre"]["distinct_is_approx"] is True
