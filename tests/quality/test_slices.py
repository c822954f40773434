"""The slice (bias) report against small tables whose answers are worked out by hand."""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pytest

from trackline.contracts.loader import ContractRegistry, parse_contract
from trackline.contracts.spec import Contract
from trackline.core import duck
from trackline.quality.slices import slice_report

CONTRACT = """
name: plays
version: 1
fields:
  user_id: {type: string}
  genre:   {type: string}
  country: {type: string}
  minutes: {type: float64}
  score:   {type: int64}
slices: [genre, country]
metrics: [minutes, score]
"""

# genre, country, minutes, score
ROWS: list[tuple[Any, ...]] = [
    ("rock", "US", 1.0, 0),
    ("rock", "US", 2.0, 0),
    ("rock", "GB", 3.0, 0),
    ("rock", "GB", 4.0, 0),
    ("pop", "US", 5.0, 0),
    ("pop", "US", 6.0, 0),
    ("pop", None, None, 0),
    ("jazz", "US", 8.0, 0),
    (None, "US", 9.0, 0),
    (None, None, 10.0, 0),
]
RELATION = "(SELECT * FROM main.plays WHERE run_id = $run_id)"
PARAMS = {"run_id": "r1"}
OVERALL_MINUTES = 48 / 9  # nine non-null minutes summing to 48


def build(con: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]]) -> None:
    con.execute(
        "CREATE TABLE plays (user_id VARCHAR, genre VARCHAR, country VARCHAR, minutes DOUBLE, "
        "score BIGINT, run_id VARCHAR)"
    )
    for row in rows:
        con.execute("INSERT INTO plays VALUES ('u', ?, ?, ?, ?, 'r1')", list(row))
    con.execute("INSERT INTO plays VALUES ('u', 'metal', 'FR', 100, 5, 'r2')")


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
    return slice_report(con, RELATION, contract, min_n=2, min_share=0.5, params=PARAMS)


def by_value(section: dict[str, Any]) -> dict[Any, dict[str, Any]]:
    return {v["value"]: v for v in section["values"]}


def test_overall(report: dict[str, Any]) -> None:
    assert report["overall"]["n"] == 10  # the r2 row is not counted
    minutes = report["overall"]["metrics"]["minutes"]
    assert minutes["mean"] == pytest.approx(OVERALL_MINUTES)
    assert minutes["n"] == 9
    assert report["overall"]["metrics"]["score"] == {"mean": 0.0, "n": 10}
    assert (report["min_n"], report["min_share"]) == (2, 0.5)


def test_values_ordered_by_n_with_null_as_a_value(report: dict[str, Any]) -> None:
    genre = report["slices"]["genre"]
    assert [(v["value"], v["n"]) for v in genre["values"]] == [
        ("rock", 4),
        ("pop", 3),
        (None, 2),
        ("jazz", 1),
    ]
    assert genre["distinct_values"] == 4
    assert [v["share"] for v in genre["values"]] == pytest.approx([0.4, 0.3, 0.2, 0.1])
    # Ties on n are broken by value, NULL last.
    country = report["slices"]["country"]
    assert [(v["value"], v["n"]) for v in country["values"]] == [("US", 6), ("GB", 2), (None, 2)]
    assert (genre["other_values"], genre["other_rows"]) == (0, 0)


def test_per_value_metric_mean_diff_ratio(report: dict[str, Any]) -> None:
    genre = by_value(report["slices"]["genre"])
    expected = {"rock": 2.5, "pop": 5.5, None: 9.5, "jazz": 8.0}
    for value, mean in expected.items():
        m = genre[value]["metrics"]["minutes"]
        assert m["mean"] == pytest.approx(mean)
        assert m["diff"] == pytest.approx(mean - OVERALL_MINUTES)
        assert m["ratio"] == pytest.approx(mean / OVERALL_MINUTES)
    assert genre["pop"]["metrics"]["minutes"]["n"] == 2  # one of pop's three rows has no minutes
    country = by_value(report["slices"]["country"])
    assert country["US"]["metrics"]["minutes"]["mean"] == pytest.approx(31 / 6)
    assert country[None]["metrics"]["minutes"]["mean"] == pytest.approx(10.0)


def test_ratio_is_null_when_overall_mean_is_zero(report: dict[str, Any]) -> None:
    rock = by_value(report["slices"]["genre"])["rock"]["metrics"]["score"]
    assert rock == {"mean": 0.0, "n": 4, "diff": 0.0, "ratio": None}


def test_flags(report: dict[str, Any]) -> None:
    genre = by_value(report["slices"]["genre"])
    # min_n 2: only jazz (n=1) is small. Even share 1/4, threshold 0.5 * 0.25 = 0.125: jazz only.
    assert genre["jazz"]["flags"] == ["small_n", "under_represented"]
    assert genre[None]["flags"] == []
    assert genre["rock"]["flags"] == []
    # Country: threshold 0.5 / 3 = 0.1667; GB and NULL have 0.2.
    assert all(v["flags"] == [] for v in report["slices"]["country"]["values"])


def test_under_represented_without_small_n(
    con: duckdb.DuckDBPyConnection, contract: Contract
) -> None:
    out = slice_report(con, RELATION, contract, min_n=1, min_share=0.9, params=PARAMS)
    genre = by_value(out["slices"]["genre"])
    # Threshold 0.9 * 0.25 = 0.225: NULL (0.2) and jazz (0.1) fall below; no value has n < 1.
    assert genre[None]["flags"] == ["under_represented"]
    assert genre["jazz"]["flags"] == ["under_represented"]
    assert genre["pop"]["flags"] == []


def test_disparity_ignores_small_values(report: dict[str, Any]) -> None:
    d = report["slices"]["genre"]["disparity"]["minutes"]
    # Compared: rock 2.5, pop 5.5, NULL 9.5 (jazz, 8.0, has n=1 < min_n).
    assert d["max_value"] is None
    assert d["max_mean"] == pytest.approx(9.5)
    assert d["min_value"] == "rock"
    assert d["min_mean"] == pytest.approx(2.5)
    assert d["max_min_ratio"] == pytest.approx(3.8)
    assert d["max_min_diff"] == pytest.approx(7.0)
    assert d["values_compared"] == 3
    c = report["slices"]["country"]["disparity"]["minutes"]
    assert (c["max_value"], c["min_value"]) == (None, "GB")
    assert c["max_min_ratio"] == pytest.approx(10.0 / 3.5)
    assert report["slices"]["genre"]["share_disparity"] == pytest.approx(4.0)
    assert report["slices"]["country"]["share_disparity"] == pytest.approx(3.0)


def test_disparity_ratio_null_for_non_positive_min(report: dict[str, Any]) -> None:
    d = report["slices"]["genre"]["disparity"]["score"]
    assert (d["max_mean"], d["min_mean"]) == (0.0, 0.0)
    assert d["max_min_ratio"] is None
    assert d["max_min_diff"] == 0.0


def test_disparity_none_when_no_value_is_big_enough(
    con: duckdb.DuckDBPyConnection, contract: Contract
) -> None:
    out = slice_report(con, RELATION, contract, min_n=100, min_share=0.5, params=PARAMS)
    assert out["slices"]["genre"]["disparity"] == {"minutes": None, "score": None}
    assert all("small_n" in v["flags"] for v in out["slices"]["genre"]["values"])


def test_many_values_are_truncated(con: duckdb.DuckDBPyConnection, contract: Contract) -> None:
    out = slice_report(con, RELATION, contract, min_n=2, min_share=0.5, params=PARAMS, max_values=2)
    genre = out["slices"]["genre"]
    assert [v["value"] for v in genre["values"]] == ["rock", "pop"]
    assert genre["distinct_values"] == 4
    assert (genre["other_values"], genre["other_rows"]) == (2, 3)
    # The disparity still sees values beyond the listed ones, and flags still use all 4 values.
    assert genre["disparity"]["minutes"]["max_value"] is None
    assert genre["disparity"]["minutes"]["max_mean"] == pytest.approx(9.5)
    assert genre["share_disparity"] == pytest.approx(4.0)


def test_sixty_values_keep_top_fifty() -> None:
    c = parse_contract(
        "name: many\nversion: 1\nfields:\n  k: {type: int64}\n  x: {type: float64}\n"
        "slices: [k]\nmetrics: [x]\n",
        "many.yaml",
    )
    con = duck.connect()
    # Value k (0..59) appears k + 1 times with x = k.
    con.execute(
        "CREATE TABLE many AS SELECT k, k::DOUBLE AS x FROM range(60) t(k), "
        "range(60) u(j) WHERE j <= k"
    )
    out = slice_report(con, "many", c, min_n=1, min_share=0.5)
    k = out["slices"]["k"]
    assert len(k["values"]) == 50
    assert k["values"][0] == {**k["values"][0], "value": 59, "n": 60}
    assert k["values"][-1]["value"] == 10
    assert k["other_values"] == 10
    assert k["other_rows"] == sum(range(1, 11))
    d = k["disparity"]["x"]
    assert (d["max_value"], d["min_value"]) == (59, 0)  # 0 is not listed but is compared
    assert d["max_min_ratio"] is None  # min mean is 0
    assert d["values_compared"] == 60
    assert k["share_disparity"] == pytest.approx(60.0)


def test_no_slices_and_no_metrics() -> None:
    con = duck.connect()
    con.execute("CREATE TABLE t (id BIGINT, name VARCHAR)")
    con.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, NULL)")
    bare = parse_contract(
        "name: bare\nversion: 1\nfields:\n  id: {type: int64}\n  name: {type: string}\n", "b.yaml"
    )
    out = slice_report(con, "t", bare, min_n=30, min_share=0.5)
    assert out["overall"] == {"n": 3, "metrics": {}}
    assert out["slices"] == {}
    json.dumps(out, allow_nan=False)


def test_metrics_without_slices_builtin_carts() -> None:
    carts = ContractRegistry().get("carts")
    assert carts.slices == [] and carts.metrics == ["quantity"]
    con = duck.connect()
    con.execute(
        "CREATE TABLE carts (cart_id BIGINT, user_id BIGINT, date TIMESTAMPTZ, "
        "product_id BIGINT, quantity BIGINT)"
    )
    con.execute("INSERT INTO carts VALUES (1, 1, '2024-01-01', 1, 2), (1, 1, '2024-01-01', 2, 5)")
    out = slice_report(con, "carts", carts, min_n=30, min_share=0.5)
    assert out["overall"] == {"n": 2, "metrics": {"quantity": {"mean": 3.5, "n": 2}}}
    assert out["slices"] == {}


def test_slices_without_metrics_builtin_users() -> None:
    users = ContractRegistry().get("users")
    assert users.slices == ["city"] and users.metrics == []
    con = duck.connect()
    con.execute(
        "CREATE TABLE users AS SELECT * FROM (VALUES (1, 'kilcoole'), (2, 'kilcoole'), "
        "(3, NULL)) v(id, city)"
    )
    out = slice_report(con, "users", users, min_n=2, min_share=0.5)
    city = out["slices"]["city"]
    assert [(v["value"], v["n"], v["metrics"]) for v in city["values"]] == [
        ("kilcoole", 2, {}),
        (None, 1, {}),
    ]
    assert city["values"][1]["flags"] == ["small_n"]  # 1/3 share is not below 0.5 * 1/2
    assert city["disparity"] == {}
    assert city["share_disparity"] == pytest.approx(2.0)


def test_empty_run(con: duckdb.DuckDBPyConnection, contract: Contract) -> None:
    out = slice_report(con, RELATION, contract, min_n=2, min_share=0.5, params={"run_id": "none"})
    assert out["overall"]["n"] == 0
    assert out["overall"]["metrics"]["minutes"] == {"mean": None, "n": 0}
    genre = out["slices"]["genre"]
    assert genre["values"] == []
    assert genre["distinct_values"] == 0
    assert genre["disparity"] == {"minutes": None, "score": None}
    assert genre["share_disparity"] is None
    json.dumps(out, allow_nan=False)


def test_reserved_param_names_are_refused(
    con: duckdb.DuckDBPyConnection, contract: Contract
) -> None:
    with pytest.raises(ValueError, match="_tl_min_n"):
        slice_report(
            con, RELATION, contract, min_n=2, min_share=0.5, params={"run_id": "r1", "_tl_min_n": 1}
        )


def test_report_is_strict_json(report: dict[str, Any]) -> None:
    assert json.loads(json.dumps(report, allow_nan=False)) == report
