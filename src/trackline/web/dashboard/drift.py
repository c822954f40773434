"""Distributions of a run's rows: histograms for numbers and the population stability index
(PSI) between two runs of a dataset, column by column.

Bins come from the runs' quality reports (min and max per numeric column, top values per
string column), so one grouped query per run answers a whole page; the result is cached (a
finished run's rows never change). PSI = sum over bins of (b - a) * ln(b / a), a and b each
run's share of rows in the bin (empty bins count as `EPSILON`). Rule of thumb: below 0.1 no
shift, 0.1 to 0.2 some, above 0.2 a shift worth a look (the default threshold).
"""

from __future__ import annotations

import math
from typing import Any

from trackline.web.dashboard.source import Reads

BINS = 10
EPSILON = 1e-4
MAX_CATEGORIES = 50  # a string column with more distinct values is an id: no PSI
OTHER = "(other)"


def edges(lo: float, hi: float, bins: int = BINS) -> list[float]:
    if hi <= lo:
        hi = lo + 1.0
    w = (hi - lo) / bins
    return [lo + i * w for i in range(bins + 1)]


def _bucket_sql(r: Reads, col: str, lo: float, hi: float, bins: int) -> str:
    """SQL for the bin of a numeric value (0..bins-1; the maximum falls in the last bin)."""
    w = (hi - lo) / bins if hi > lo else 1.0 / bins
    c = f"CAST({r.ident(col)} AS DOUBLE)"
    return f"least(greatest(floor(({c} - ({lo!r})) / ({w!r})), 0), {bins - 1})"


def numeric_counts(
    r: Reads, table: str, runs: list[str], columns: dict[str, tuple[float, float]]
) -> dict[str, dict[str, list[int]]]:
    """{column: {run: counts per bin}} for numeric columns with their (lo, hi): one query,
    one scan of the runs' rows (GROUPING SETS: one count per run, column and bin)."""
    out: dict[str, dict[str, list[int]]] = {c: {run: [0] * BINS for run in runs} for c in columns}
    if not columns or not runs:
        return out
    names = list(columns)
    bound: dict[str, Any] = {f"run{i}": run for i, run in enumerate(runs)}
    in_runs = ", ".join(f"$run{i}" for i in range(len(runs)))
    buckets = ", ".join(
        f"CAST({_bucket_sql(r, c, *columns[c], BINS)} AS BIGINT) AS b{k}"
        for k, c in enumerate(names)
    )
    sets = ", ".join(f"(run_id, b{k})" for k in range(len(names)))
    which = ", ".join(f"GROUPING(b{k}) AS g{k}" for k in range(len(names)))
    cols = ", ".join(f"b{k}" for k in range(len(names)))
    sql = (
        f"SELECT run_id, {cols}, {which}, count(*) AS n FROM "
        f"(SELECT run_id, {buckets} FROM {table} WHERE run_id IN ({in_runs})) AS x "
        f"GROUP BY GROUPING SETS ({sets})"
    )
    for row in r.rows(sql, bound):
        for k, name in enumerate(names):
            if row[f"g{k}"] == 0 and row[f"b{k}"] is not None:
                out[name][str(row["run_id"])][int(row[f"b{k}"])] = int(row["n"])
    return out


def category_counts(
    r: Reads, table: str, runs: list[str], columns: list[str]
) -> dict[str, dict[str, dict[str, int]]]:
    """{column: {run: {value: rows}}} for low-cardinality string columns: one query, one scan
    (GROUPING SETS: one count per run, column and value)."""
    out: dict[str, dict[str, dict[str, int]]] = {c: {run: {} for run in runs} for c in columns}
    if not columns or not runs:
        return out
    bound: dict[str, Any] = {f"run{i}": run for i, run in enumerate(runs)}
    in_runs = ", ".join(f"$run{i}" for i in range(len(runs)))
    values = ", ".join(
        f"CAST({r.ident(c)} AS {r.text_type}) AS v{k}" for k, c in enumerate(columns)
    )
    sets = ", ".join(f"(run_id, v{k})" for k in range(len(columns)))
    which = ", ".join(f"GROUPING(v{k}) AS g{k}" for k in range(len(columns)))
    cols = ", ".join(f"v{k}" for k in range(len(columns)))
    sql = (
        f"SELECT run_id, {cols}, {which}, count(*) AS n FROM "
        f"(SELECT run_id, {values} FROM {table} WHERE run_id IN ({in_runs})) AS x "
        f"GROUP BY GROUPING SETS ({sets})"
    )
    for row in r.rows(sql, bound):
        for k, name in enumerate(columns):
            if row[f"g{k}"] == 0:
                v = "(null)" if row[f"v{k}"] is None else str(row[f"v{k}"])
                out[name][str(row["run_id"])][v] = int(row["n"])
    return out


def psi(a: list[int], b: list[int]) -> float | None:
    """Population stability index of distribution b against a (same bins)."""
    na, nb = sum(a), sum(b)
    if not na or not nb:
        return None
    total = 0.0
    for x, y in zip(a, b, strict=True):
        pa_, pb = max(x / na, EPSILON), max(y / nb, EPSILON)
        total += (pb - pa_) * math.log(pb / pa_)
    return total


def numeric_ranges(*profiles: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Numeric columns present in every profile, with the range covering all of them."""
    out: dict[str, tuple[float, float]] = {}
    first = profiles[0].get("columns", {})
    for name, col in first.items():
        if col.get("kind") != "numeric":
            continue
        los, his = [], []
        for p in profiles:
            c = p.get("columns", {}).get(name)
            if not c or not isinstance(c.get("min"), int | float):
                break
            if not isinstance(c.get("max"), int | float):
                break
            los.append(float(c["min"]))
            his.append(float(c["max"]))
        else:
            if los:
                out[name] = (min(los), max(his))
    return out


def categorical(*profiles: dict[str, Any]) -> list[str]:
    """String columns of few distinct values in every profile (not ids)."""
    first = profiles[0].get("columns", {})
    out = []
    for name, col in first.items():
        if col.get("kind") != "string" or col.get("unique"):
            continue
        if all(
            p.get("columns", {}).get(name, {}).get("distinct", MAX_CATEGORIES + 1) <= MAX_CATEGORIES
            for p in profiles
        ):
            out.append(name)
    return out


def align(a: dict[str, int], b: dict[str, int]) -> tuple[list[str], list[int], list[int]]:
    """Both runs' counts over the union of their values, largest first."""
    values = sorted(set(a) | set(b), key=lambda v: (-(a.get(v, 0) + b.get(v, 0)), v))
    return values, [a.get(v, 0) for v in values], [b.get(v, 0) for v in values]
