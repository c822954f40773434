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


Numeric = dict[str, dict[str, list[int]]]  # column -> run -> rows per bin
Categories = dict[str, dict[str, dict[str, int]]]  # column -> run -> value -> rows


def distributions(
    r: Reads,
    table: str,
    runs: list[str],
    ranges: dict[str, tuple[float, float]],
    categories: list[str],
) -> tuple[Numeric, Categories]:
    """Rows per bin of each numeric column (`ranges`: its lo, hi) and per value of each
    category column, per run: one query, one scan of the runs' rows (GROUPING SETS: one count
    per run, column and bin or value)."""
    nums: Numeric = {c: {run: [0] * BINS for run in runs} for c in ranges}
    cats: Categories = {c: {run: {} for run in runs} for c in categories}
    if not runs or not (ranges or categories):
        return nums, cats
    names = list(ranges)
    bound: dict[str, Any] = {f"run{i}": run for i, run in enumerate(runs)}
    in_runs = ", ".join(f"$run{i}" for i in range(len(runs)))
    keys = [f"b{k}" for k in range(len(names))] + [f"v{k}" for k in range(len(categories))]
    projected = [
        f"CAST({_bucket_sql(r, c, *ranges[c], BINS)} AS BIGINT) AS b{k}"
        for k, c in enumerate(names)
    ] + [f"CAST({r.ident(c)} AS {r.text_type}) AS v{k}" for k, c in enumerate(categories)]
    sql = (
        f"SELECT run_id, {', '.join(keys)}, "
        f"{', '.join(f'GROUPING({k}) AS g_{k}' for k in keys)}, count(*) AS n FROM "
        f"(SELECT run_id, {', '.join(projected)} FROM {table} WHERE run_id IN ({in_runs})) AS x "
        f"GROUP BY GROUPING SETS ({', '.join(f'(run_id, {k})' for k in keys)})"
    )
    for row in r.rows(sql, bound):
        run, n = str(row["run_id"]), int(row["n"])
        for k, name in enumerate(names):
            if row[f"g_b{k}"] == 0 and row[f"b{k}"] is not None:
                nums[name][run][int(row[f"b{k}"])] = n
        for k, name in enumerate(categories):
            if row[f"g_v{k}"] == 0:
                v = "(null)" if row[f"v{k}"] is None else str(row[f"v{k}"])
                cats[name][run][v] = n
    return nums, cats


def numeric_counts(
    r: Reads, table: str, runs: list[str], columns: dict[str, tuple[float, float]]
) -> Numeric:
    """Rows per bin of each numeric column, per run (one scan)."""
    return distributions(r, table, runs, columns, [])[0]


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
