"""The per-run slice ("bias") report: is the data, or a metric, skewed toward some values?

For each slice column of the contract (genre, country, ...) the report gives every value's row
count and share, each metric's mean against the overall mean, flags for values too small to
trust (`small_n`) or too rare for an even spread (`under_represented`), and a disparity summary.
One query computes it all: one GROUP BY per slice column and one for the overall totals,
appended; window functions rank the values and find each metric's extremes, so only the
listed values and the extremes come back to Python, however many distinct values there are.

A NULL slice value is a value of its own (reported as `null`): rows missing a genre are a group
worth seeing. Metrics are cast to DOUBLE (TRY_CAST: a non-numeric derived metric reports NULL
means rather than failing the run).
"""

from __future__ import annotations

import math
from typing import Any

import duckdb

from trackline.contracts.spec import Contract
from trackline.core.dialect import ident
from trackline.quality.profile import jsonable, relation_types

#: Values listed per slice column; the rest are summarised as `other_values` / `other_rows`.
MAX_VALUES = 50

_MIN_N = "_tl_min_n"
_TOP = "_tl_top"


def _finite(x: Any) -> float | None:
    """A float for JSON: None for NULL, NaN and infinity."""
    return None if x is None or not math.isfinite(x) else float(x)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return _finite(numerator / denominator)


def _sub(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else _finite(a - b)


def _same(a: Any, b: Any) -> bool:
    """Equality as DuckDB sees it for window extremes (NaN equals NaN)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _sql(relation: str, slices: list[str], metrics: list[str]) -> str:
    """One query: overall row (`_set` = -1), then per slice column its top values and extremes.

    Output columns: `_set`, `_v<i>` (value of slice i), `_n`, `_mean<j>`/`_cnt<j>` (metric j),
    `_rank` (by n desc, value; NULL last), `_k` (values in the set), `_min_share_n` (smallest n
    in the set), and `_max<j>`/`_min<j>`/`_cmp<j>` (metric j's extremes over values with
    n >= min_n, and how many values were compared).
    """
    m_exprs = [f"TRY_CAST({ident(m)} AS DOUBLE)" for m in metrics]
    aggs = ["count(*) AS _n"]
    for j, e in enumerate(m_exprs):
        aggs += [f"avg({e}) AS _mean{j}", f"count({e}) AS _cnt{j}"]
    if not slices:
        return f"SELECT -1 AS _set, {', '.join(aggs)} FROM {relation}"

    cols = [ident(s) for s in slices]
    # One GROUP BY per slice column, appended: GROUPING SETS made DuckDB copy every row the
    # sets need first (figures in docs/performance.md; profile.py's top values differ).
    nulls = ["NULL"] * len(cols)
    sets = [
        f"SELECT -1 AS _set, {', '.join(f'NULL AS _v{i}' for i in range(len(cols)))}, "
        f"{', '.join(aggs)} FROM {relation}"
    ]
    for i, c in enumerate(cols):
        values = [c if k == i else v for k, v in enumerate(nulls)]
        sets.append(
            f"SELECT {i}, {', '.join(values)}, {', '.join(aggs)} FROM {relation} GROUP BY {c}"
        )
    order = ", ".join(f"_v{i} ASC NULLS LAST" for i in range(len(cols)))
    enough = f"_n >= ${_MIN_N}"
    windows = [
        f"row_number() OVER (PARTITION BY _set ORDER BY _n DESC, {order}) AS _rank",
        "count(*) OVER (PARTITION BY _set) AS _k",
        "min(_n) OVER (PARTITION BY _set) AS _min_share_n",
    ]
    extreme = []
    for j in range(len(metrics)):
        windows += [
            f"max(_mean{j}) FILTER (WHERE {enough}) OVER (PARTITION BY _set) AS _max{j}",
            f"min(_mean{j}) FILTER (WHERE {enough}) OVER (PARTITION BY _set) AS _min{j}",
            f"count(_mean{j}) FILTER (WHERE {enough}) OVER (PARTITION BY _set) AS _cmp{j}",
        ]
        extreme.append(f"(_mean{j} = _max{j} OR _mean{j} = _min{j})")
    keep = [f"_rank <= ${_TOP}"]
    if extreme:
        keep.append(f"({enough} AND ({' OR '.join(extreme)}))")
    return (
        f"WITH g AS ({' UNION ALL '.join(sets)}), "
        f"r AS (SELECT *, {', '.join(windows)} FROM g) "
        f"SELECT * FROM r WHERE _set = -1 OR {' OR '.join(keep)} ORDER BY _set, _rank"
    )


def slice_report(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    contract: Contract,
    *,
    min_n: int,
    min_share: float,
    params: dict[str, Any] | None = None,
    max_values: int = MAX_VALUES,
) -> dict[str, Any]:
    """Slice report for a run's accepted rows (`relation`, trusted SQL bound with `params`).

    `share` is a fraction of all rows. A value is `small_n` when n < `min_n` and
    `under_represented` when share < `min_share` / (number of values). Disparity compares only
    values with n >= `min_n` (means of tiny groups are noise); `max_min_ratio` is NULL unless
    the smallest mean is positive, since a ratio of non-positive means measures nothing.
    """
    slices = list(dict.fromkeys(contract.slices))
    metrics = list(dict.fromkeys(contract.metrics))
    bound = dict(params or {})
    if slices:
        clash = {_MIN_N, _TOP} & set(bound)
        if clash:
            raise ValueError(f"params may not use the reserved name(s) {sorted(clash)}")
        bound[_TOP] = int(max_values)
        if metrics:  # DuckDB refuses a bound parameter the query does not use
            bound[_MIN_N] = int(min_n)
    relation_types(con, relation, contract, params, [*slices, *metrics])  # names what is missing
    rel = con.sql(_sql(relation, slices, metrics), params=bound or None)
    names = list(rel.columns)
    rows = [dict(zip(names, r, strict=True)) for r in rel.fetchall()]

    overall_row = next(r for r in rows if r["_set"] == -1)
    total = int(overall_row["_n"])
    overall_means: dict[str, float | None] = {
        m: _finite(overall_row[f"_mean{j}"]) for j, m in enumerate(metrics)
    }
    report: dict[str, Any] = {
        "dataset": contract.name,
        "contract_version": contract.version,
        "min_n": int(min_n),
        "min_share": float(min_share),
        "max_values": int(max_values),
        "overall": {
            "n": total,
            "metrics": {
                m: {"mean": overall_means[m], "n": int(overall_row[f"_cnt{j}"])}
                for j, m in enumerate(metrics)
            },
        },
        "slices": {},
    }
    for i, column in enumerate(slices):
        group = [r for r in rows if r["_set"] == i]
        report["slices"][column] = _slice(
            i,
            group,
            metrics,
            overall_means,
            total,
            min_n=min_n,
            min_share=min_share,
            max_values=max_values,
        )
    return report


def _slice(
    i: int,
    group: list[dict[str, Any]],
    metrics: list[str],
    overall: dict[str, float | None],
    total: int,
    *,
    min_n: int,
    min_share: float,
    max_values: int,
) -> dict[str, Any]:
    """Slice column `i`'s section, from its listed values and extreme rows."""
    k = int(group[0]["_k"]) if group else 0
    even_share = 1.0 / k if k else 0.0
    listed = [r for r in group if r["_rank"] <= max_values]
    values = []
    for r in listed:
        n = int(r["_n"])
        share = n / total if total else 0.0
        flags = []
        if n < min_n:
            flags.append("small_n")
        if share < min_share * even_share:
            flags.append("under_represented")
        per_metric = {}
        for j, m in enumerate(metrics):
            mean = _finite(r[f"_mean{j}"])
            per_metric[m] = {
                "mean": mean,
                "n": int(r[f"_cnt{j}"]),
                "diff": _sub(mean, overall[m]),
                "ratio": _ratio(mean, overall[m]),
            }
        values.append(
            {
                "value": jsonable(r[f"_v{i}"]),
                "n": n,
                "share": share,
                "metrics": per_metric,
                "flags": flags,
            }
        )

    disparity: dict[str, Any] = {}
    for j, m in enumerate(metrics):
        compared = int(group[0][f"_cmp{j}"]) if group else 0
        if not compared:
            disparity[m] = None
            continue
        hi_mean, lo_mean = group[0][f"_max{j}"], group[0][f"_min{j}"]
        enough = [r for r in group if r["_n"] >= min_n]  # rows arrive ordered by rank
        hi = next(r for r in enough if _same(r[f"_mean{j}"], hi_mean))
        lo = next(r for r in enough if _same(r[f"_mean{j}"], lo_mean))
        hi_mean, lo_mean = _finite(hi_mean), _finite(lo_mean)
        disparity[m] = {
            "max_value": jsonable(hi[f"_v{i}"]),
            "max_mean": hi_mean,
            "min_value": jsonable(lo[f"_v{i}"]),
            "min_mean": lo_mean,
            "max_min_ratio": _ratio(hi_mean, lo_mean)
            if lo_mean is not None and lo_mean > 0
            else None,
            "max_min_diff": _sub(hi_mean, lo_mean),
            "values_compared": compared,
        }

    listed_rows = sum(v["n"] for v in values)
    largest = int(group[0]["_n"]) if group else 0
    smallest = int(group[0]["_min_share_n"]) if group else 0
    return {
        "distinct_values": k,
        "values": values,
        "other_values": max(0, k - len(values)),
        "other_rows": total - listed_rows if group else 0,
        "disparity": disparity,
        "share_disparity": largest / smallest if smallest else None,
    }
