"""The per-run quality report: what a run's accepted rows look like, column by column.

Written to `reports/<run>/quality.json` (design.md 3.4) and the warehouse's quality table, so it
must be JSON-ready: plain numbers and strings, timestamps as ISO text, never NaN or infinity.
Runs can hold millions of rows, so every per-column aggregate comes from ONE aggregate query (one
scan of the relation) and the exact top values of all string columns from one more
(GROUPING SETS, one hash table per column in the same scan). No Python touches a row.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

import duckdb

from trackline.contracts.spec import Contract
from trackline.core.dialect import ident
from trackline.errors import QueryError

#: How many most frequent values a string column's profile lists.
TOP_VALUES = 5

Kind = Literal["numeric", "temporal", "string", "bool", "other"]

_NUMERIC_PREFIXES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
)


def kind_of(duckdb_type: str) -> Kind:
    """Which statistics make sense for a column of this DuckDB type."""
    t = duckdb_type.upper()
    if t.startswith(_NUMERIC_PREFIXES):
        return "numeric"
    if t.startswith(("TIMESTAMP", "DATE", "TIME")):
        return "temporal"
    if t == "VARCHAR":
        return "string"
    if t == "BOOLEAN":
        return "bool"
    return "other"


def jsonable(value: Any) -> Any:
    """A DuckDB result value as plain JSON data (ISO text for times; None for NaN/infinity)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return jsonable(float(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)


def relation_types(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    contract: Contract,
    params: dict[str, Any] | None,
    needed: list[str] | None = None,
) -> dict[str, str]:
    """DuckDB type of each column of the relation, read from its schema (no scan).

    Fails with the missing names if the relation lacks a `needed` column (default: every
    output column), which means the warehouse table predates the contract version.
    """
    rel = con.sql(f"SELECT * FROM {relation} LIMIT 0", params=params)
    types = {name: str(t) for name, t in zip(rel.columns, rel.types, strict=True)}
    wanted = contract.output_columns if needed is None else needed
    missing = [c for c in wanted if c not in types]
    if missing:
        raise QueryError(
            f"cannot report on {contract.name!r}: the relation has no column(s) "
            f"{', '.join(missing)}; it does not match contract version {contract.version} "
            "(reload the dataset into a table built from this contract)"
        )
    return types


class _Select:
    """SELECT-list builder that remembers which (column, statistic) each expression yields."""

    def __init__(self) -> None:
        self.exprs: list[str] = []
        self.keys: list[tuple[str, str]] = []

    def add(self, column: str, stat: str, expr: str) -> None:
        self.keys.append((column, stat))
        self.exprs.append(expr)

    def read(self, row: tuple[Any, ...]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for (column, stat), value in zip(self.keys, row, strict=True):
            out.setdefault(column, {})[stat] = value
        return out


def _aggregates(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    kinds: dict[str, Kind],
    params: dict[str, Any] | None,
    unique: set[str] | frozenset[str] = frozenset(),
) -> tuple[int, dict[str, dict[str, Any]]]:
    """Row count and every column's statistics, in one scan. A `unique` column's distinct
    count is its count: exact, and far cheaper than a HyperLogLog sketch of unique values."""
    sel = _Select()
    sel.add("", "rows", "count(*)")
    for name, kind in kinds.items():
        col = ident(name)
        sel.add(name, "non_null", f"count({col})")
        # HyperLogLog can overshoot on tiny inputs; a column cannot have more values than rows.
        distinct = f"least(approx_count_distinct({col}), count({col}))"
        sel.add(name, "distinct", f"count({col})" if name in unique else distinct)
        if kind == "numeric":
            sel.add(name, "min", f"min({col})")
            sel.add(name, "max", f"max({col})")
            sel.add(name, "mean", f"avg(CAST({col} AS DOUBLE))")
            sel.add(name, "stddev", f"stddev_samp(CAST({col} AS DOUBLE))")
        elif kind == "temporal":
            sel.add(name, "min", f"min({col})")
            sel.add(name, "max", f"max({col})")
        elif kind == "bool":
            sel.add(name, "true", f"count(*) FILTER (WHERE {col})")
    sql = f"SELECT {', '.join(sel.exprs)} FROM {relation}"
    (row,) = con.sql(sql, params=params).fetchall()  # no GROUP BY: always exactly one row
    stats = sel.read(row)
    return int(stats.pop("")["rows"]), stats


def _top_values(
    con: duckdb.DuckDBPyConnection, relation: str, columns: list[str], params: dict[str, Any] | None
) -> dict[str, list[dict[str, Any]]]:
    """Exact counts of the most frequent non-NULL values of every string column, in one scan.

    GROUPING SETS builds one hash table per column during a single pass (here faster than one
    GROUP BY per column, unlike the slice report); within the set of column i every other
    column is NULL, so COALESCE picks column i's value. Ties are broken by value so the report
    is deterministic.
    """
    out: dict[str, list[dict[str, Any]]] = {c: [] for c in columns}
    if not columns:
        return out
    cols = [ident(c) for c in columns]
    which = " ".join(f"WHEN GROUPING({c}) = 0 THEN {i}" for i, c in enumerate(cols))
    sets = ", ".join(f"({c})" for c in cols)
    value = f"COALESCE({', '.join(cols)})" if len(cols) > 1 else cols[0]
    sql = (
        f"WITH g AS (SELECT CASE {which} END AS _col, {value} AS _value, count(*) AS _n "
        f"FROM {relation} GROUP BY GROUPING SETS ({sets})) "
        "SELECT _col, _value, _n FROM g WHERE _value IS NOT NULL "
        "QUALIFY row_number() OVER (PARTITION BY _col ORDER BY _n DESC, _value) <= "
        f"{TOP_VALUES} ORDER BY _col, _n DESC, _value"
    )
    for i, v, n in con.sql(sql, params=params).fetchall():
        out[columns[i]].append({"value": v, "count": int(n)})
    return out


def profile(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    contract: Contract,
    *,
    rejected_by_reason: dict[str, int],
    rejected_rows: int,
    duplicates: int,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Profile a run's accepted rows (`relation`, trusted FROM-clause SQL bound with `params`).

    `columns` follows `contract.output_columns`; each entry holds `type` (the contract type, or
    the DuckDB type for derived columns), `null_pct` (0-100), `distinct` (HyperLogLog, except
    a one-column key's exact count: `distinct_is_approx`), and by kind: numeric
    `min`/`max`/`mean`/`stddev` (sample), temporal ISO `min`/`max`, string `top_values` (exact
    counts), bool `true_pct`.
    """
    types = relation_types(con, relation, contract, params)
    kinds = {c: kind_of(types[c]) for c in contract.output_columns}
    # A one-column primary key is unique within a run's accepted rows: its "top values" would
    # all be 1, and counting them is the costliest part of a profile.
    unique = set(contract.key_columns) if len(contract.key_columns) == 1 else set()
    rows, stats = _aggregates(con, relation, kinds, params, unique)
    strings = [c for c, k in kinds.items() if k == "string" and c not in unique]
    top = _top_values(con, relation, strings, params) if rows else {c: [] for c in strings}

    columns: dict[str, Any] = {}
    for name, kind in kinds.items():
        s = stats[name]
        non_null = int(s["non_null"])
        spec = contract.fields.get(name)
        entry: dict[str, Any] = {
            "type": spec.type if spec is not None else types[name],
            "kind": kind,
            "derived": spec is None,
            "non_null": non_null,
            "null_pct": round(100.0 * (rows - non_null) / rows, 2) if rows else None,
            "distinct": int(s["distinct"]),
            "distinct_is_approx": name not in unique,
        }
        if kind in ("numeric", "temporal"):
            entry["min"] = jsonable(s["min"])
            entry["max"] = jsonable(s["max"])
        if kind == "numeric":
            entry["mean"] = jsonable(s["mean"])
            entry["stddev"] = jsonable(s["stddev"])
        elif kind == "string":
            entry["top_values"] = top.get(name, [])
            if name in unique:
                entry["unique"] = True
        elif kind == "bool":
            entry["true_pct"] = round(100.0 * int(s["true"]) / non_null, 2) if non_null else None
        columns[name] = entry

    return {
        "dataset": contract.name,
        "contract_version": contract.version,
        "rows": rows,
        "rejected_rows": int(rejected_rows),
        "duplicates": int(duplicates),
        "rejected_by_reason": {str(k): int(v) for k, v in rejected_by_reason.items()},
        "columns": columns,
    }
