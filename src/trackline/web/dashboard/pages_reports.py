"""Quality, Bias and Drift: a run's recorded reports (`meta.reports`), and two runs compared.

The quality and slice reports are the ones each run recorded (no scan of the data); the
histograms and drift group the run's own rows by bins taken from those reports, once per run
(cached: a finished run's rows do not change).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import QueryParams

from trackline.web.dashboard import charts, drift, params
from trackline.web.dashboard.pages_runs import Page, datasets, known_dataset
from trackline.web.dashboard.source import Reads, Source

DRIFT_THRESHOLD = 0.2


def _report(r: Reads, run: str, kind: str) -> dict[str, Any] | None:
    rows = r.rows(
        "SELECT body FROM meta.reports WHERE run_id = $r AND kind = $k", {"r": run, "k": kind}
    )
    if not rows:
        return None
    body = rows[0]["body"]
    doc: dict[str, Any] = json.loads(body) if isinstance(body, str) else body
    return doc


def _pick_run(r: Reads, q: QueryParams, kind: str) -> tuple[str | None, str | None, list[Any]]:
    """The run asked for (404 when unknown), else the dataset's (or any) latest with a report."""
    ds = known_dataset(r, params.dataset(q))
    run = params.run_id(params.text(q, "run"))
    where = "WHERE r.kind = $k" + (" AND u.dataset = $dataset" if ds else "")
    bound: dict[str, Any] = {"k": kind, **({"dataset": ds} if ds else {})}
    recent = r.rows(
        "SELECT u.run_id, u.dataset, u.started_at FROM meta.runs u JOIN meta.reports r "
        f"ON r.run_id = u.run_id {where} ORDER BY u.started_at DESC, u.run_id LIMIT 50",
        bound,
    )
    if run is not None:
        found = r.rows("SELECT dataset FROM meta.runs WHERE run_id = $r", {"r": run})
        if not found:
            raise params.NotFound(f"no run {run!r}")
        return run, str(found[0]["dataset"]), recent
    if not recent:
        return None, ds, recent
    return str(recent[0]["run_id"]), str(recent[0]["dataset"]), recent


def quality(src: Source, q: QueryParams) -> Page:
    ctx: dict[str, Any] = {"run": None, "recent": [], "datasets": [], "dataset": ""}
    if not src.has_warehouse():
        return "quality.html", ctx
    with src.warehouse() as r:
        run, ds, recent = _pick_run(r, q, "quality")
        ctx.update(run=run, recent=recent, datasets=datasets(r), dataset=ds or "")
        if run is None:
            return "quality.html", ctx
        report = _report(r, run, "quality")
        if report is None:
            ctx["missing"] = True
            return "quality.html", ctx
        ranges = drift.numeric_ranges(report)
        hists = src.cache.get(
            ("hist", run, r.version()),
            lambda: _histograms(r, str(report.get("dataset", ds)), run, ranges),
        )
    ctx["report"] = report
    ctx["columns"] = report.get("columns", {})
    ctx["charts"] = {
        name: charts.histogram(drift.edges(*ranges[name]), counts, f"{name} histogram")
        for name, counts in hists.items()
    }
    ctx["top_charts"] = {
        name: charts.bars(
            [(str(t["value"]), t["count"]) for t in col.get("top_values", [])],
            f"{name} top values",
        )
        for name, col in ctx["columns"].items()
        if col.get("top_values")
    }
    return "quality.html", ctx


def _histograms(
    r: Reads, ds: str, run: str, ranges: dict[str, tuple[float, float]]
) -> dict[str, list[int]]:
    if ds not in r.tables():
        return {}
    counts = drift.numeric_counts(r, r.relation("main", ds), [run], ranges)
    return {c: by_run[run] for c, by_run in counts.items()}


def bias(src: Source, q: QueryParams) -> Page:
    ctx: dict[str, Any] = {"run": None, "recent": [], "datasets": [], "dataset": ""}
    if not src.has_warehouse():
        return "bias.html", ctx
    with src.warehouse() as r:
        run, ds, recent = _pick_run(r, q, "slices")
        ctx.update(run=run, recent=recent, datasets=datasets(r), dataset=ds or "")
        report = _report(r, run, "slices") if run else None
    if run is not None and report is None:
        ctx["missing"] = True
    if report is None:
        return "bias.html", ctx
    ctx["report"] = report
    ctx["charts"] = {
        col: charts.bars(
            [(str(v["value"]), 100.0 * v["share"]) for v in sec.get("values", [])[:20]],
            f"{col}: share of rows (%)",
            highlight={str(v["value"]) for v in sec.get("values", []) if v.get("flags")},
        )
        for col, sec in report.get("slices", {}).items()
    }
    return "bias.html", ctx


def drift_page(src: Source, q: QueryParams) -> Page:
    threshold = params.number(q, "threshold", DRIFT_THRESHOLD, 0.0, 10.0)
    ctx: dict[str, Any] = {"datasets": [], "runs": [], "threshold": threshold, "rows": []}
    if not src.has_warehouse():
        return "drift.html", ctx
    with src.warehouse() as r:
        ds = known_dataset(r, params.dataset(q))
        reported = r.rows(
            "SELECT u.dataset, count(*) AS n FROM meta.runs u JOIN meta.reports r "
            "ON r.run_id = u.run_id WHERE r.kind = 'quality' GROUP BY u.dataset "
            "ORDER BY n DESC, u.dataset"
        )
        names = [str(x["dataset"]) for x in reported]
        ds = ds or (names[0] if names else None)
        ctx.update(datasets=names, dataset=ds or "")
        if ds is None:
            return "drift.html", ctx
        runs = r.rows(
            "SELECT u.run_id, u.started_at, u.valid_rows FROM meta.runs u JOIN meta.reports r "
            "ON r.run_id = u.run_id WHERE u.dataset = $d AND r.kind = 'quality' "
            "ORDER BY u.started_at DESC, u.run_id LIMIT 200",
            {"d": ds},
        )
        ids = [str(x["run_id"]) for x in runs]
        ctx["runs"] = runs
        a = params.run_id(params.text(q, "a"), "a") or (ids[1] if len(ids) > 1 else None)
        b = params.run_id(params.text(q, "b"), "b") or (ids[0] if ids else None)
        for which in (a, b):
            if (
                which is not None
                and which not in ids
                and not r.rows(
                    "SELECT 1 AS x FROM meta.runs u JOIN meta.reports r ON r.run_id = u.run_id "
                    "WHERE u.run_id = $r AND u.dataset = $d AND r.kind = 'quality'",
                    {"r": which, "d": ds},
                )
            ):
                raise params.NotFound(f"no run {which!r} of {ds!r} with a quality report")
        ctx.update(a=a or "", b=b or "")
        if a is None or b is None or a == b:
            return "drift.html", ctx
        rows = src.cache.get(("drift", ds, a, b, r.version()), lambda: _compare(r, ds, a, b))
    for row in rows:
        row["flagged"] = row["psi"] is not None and row["psi"] > threshold
    ctx["rows"] = rows
    ctx["chart"] = charts.bars(
        [(x["column"], round(x["psi"], 4)) for x in rows if x["psi"] is not None],
        "PSI per column",
        highlight={x["column"] for x in rows if x["flagged"]},
    )
    return "drift.html", ctx


def _compare(r: Reads, ds: str, a: str, b: str) -> list[dict[str, Any]]:
    pa_, pb = _report(r, a, "quality") or {}, _report(r, b, "quality") or {}
    if ds not in r.tables():
        return []
    table = r.relation("main", ds)
    ranges = drift.numeric_ranges(pa_, pb)
    cats = drift.categorical(pa_, pb)
    nums, strs = drift.distributions(r, table, [a, b], ranges, cats)
    out: list[dict[str, Any]] = []
    for col, by_run in nums.items():
        psi = drift.psi(by_run[a], by_run[b])
        out.append({"column": col, "kind": "numeric", "bins": drift.BINS, "psi": psi})
    for col, by_value in strs.items():
        values, ca, cb = drift.align(by_value[a], by_value[b])
        psi = drift.psi(ca, cb)
        out.append({"column": col, "kind": "category", "bins": len(values), "psi": psi})
    out.sort(key=lambda x: (-(x["psi"] or 0), x["column"]))
    return out
