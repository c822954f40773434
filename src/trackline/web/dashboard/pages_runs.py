"""Overview, Runs, a run's page and Rejected rows: what ran, and what was rejected and why.

Everything here reads `meta.runs` (one row per run, its manifest as JSON text) and
`meta.rejected`, with constant SQL and bound values.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.datastructures import QueryParams

from trackline.runs.manifest import Manifest
from trackline.web.dashboard import charts, params
from trackline.web.dashboard.source import Reads, Source

PAGE_SIZE = 50
CSV_MAX_ROWS = 100_000
SHARE_DAYS = 60
RUN_COLUMNS = (
    "run_id, dataset, status, started_at, finished_at, input_rows, valid_rows, rejected_rows, "
    "duplicate_rows, error"
)
Page = tuple[str, dict[str, Any]]


def datasets(r: Reads) -> list[str]:
    rows = r.rows("SELECT DISTINCT dataset FROM meta.runs ORDER BY dataset")
    return [str(x["dataset"]) for x in rows]


def known_dataset(r: Reads, name: str | None) -> str | None:
    if name is not None and name not in datasets(r):
        raise params.NotFound(f"no dataset {name!r} has been run")
    return name


def overview(src: Source, q: QueryParams) -> Page:
    if not src.has_warehouse():
        return "overview.html", {"empty": True}
    with src.warehouse() as r:
        per_dataset = r.rows(
            "SELECT dataset, count(*) AS runs, sum(valid_rows) AS rows, "
            "sum(rejected_rows) AS rejected, sum(input_rows) AS input, "
            "max(started_at) AS last_run FROM meta.runs GROUP BY dataset ORDER BY dataset"
        )
        last = r.rows(
            f"SELECT {RUN_COLUMNS} FROM meta.runs ORDER BY started_at DESC, run_id LIMIT 10"
        )
        since = datetime.now(UTC) - timedelta(days=SHARE_DAYS)
        daily = r.rows(
            "SELECT CAST(started_at AS DATE) AS day, sum(rejected_rows) AS rejected, "
            "sum(input_rows) AS input FROM meta.runs WHERE started_at >= $since "
            "GROUP BY CAST(started_at AS DATE) ORDER BY day",
            {"since": since},
        )
    share = [
        (str(d["day"]), 100.0 * (d["rejected"] or 0) / d["input"] if d["input"] else None)
        for d in daily
    ]
    chart = charts.lines(
        [s[0] for s in share], [("rejected % of input", [s[1] for s in share])], "rejected share"
    )
    return "overview.html", {
        "empty": not per_dataset,
        "datasets": per_dataset,
        "last": last,
        "share_chart": chart,
        "total_runs": sum(int(d["runs"]) for d in per_dataset),
        "total_rows": sum(int(d["rows"] or 0) for d in per_dataset),
    }


def _run_filters(q: QueryParams, r: Reads) -> tuple[str, dict[str, Any], dict[str, Any]]:
    ds = known_dataset(r, params.dataset(q))
    status = params.choice(q, "status", params.STATUSES)
    since, until = params.day(q, "from"), params.day(q, "to")
    where: list[str] = []
    bound: dict[str, Any] = {}
    if ds:
        where.append("dataset = $dataset")
        bound["dataset"] = ds
    if status:
        where.append("status = $status")
        bound["status"] = status
    if since:
        where.append("started_at >= $since")
        bound["since"] = since
    if until:
        where.append("started_at < $until")
        bound["until"] = until + timedelta(days=1)
    shown = {
        "dataset": ds or "",
        "status": status or "",
        "from": since.date().isoformat() if since else "",
        "to": until.date().isoformat() if until else "",
    }
    return (" WHERE " + " AND ".join(where)) if where else "", bound, shown


def _paged(
    r: Reads, table: str, columns: str, where: str, bound: dict[str, Any], order: str, page: int
) -> tuple[int, list[dict[str, Any]]]:
    """How many rows match, and the page's rows in `order` (constant SQL, bound values)."""
    (count,) = r.rows(f"SELECT count(*) AS n FROM {table}{where}", bound)
    rows = r.rows(
        f"SELECT {columns} FROM {table}{where} ORDER BY {order} LIMIT $limit OFFSET $offset",
        {**bound, "limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE},
    )
    return int(count["n"]), rows


def runs(src: Source, q: QueryParams) -> Page:
    page = params.page(q)
    if not src.has_warehouse():
        return "runs.html", {"runs": [], "datasets": [], "filters": {}, "page": 1, "pages": 1}
    with src.warehouse() as r:
        where, bound, shown = _run_filters(q, r)
        total, rows = _paged(
            r, "meta.runs", RUN_COLUMNS, where, bound, "started_at DESC, run_id", page
        )
        names = datasets(r)
    return "runs.html", {
        "runs": rows,
        "datasets": names,
        "statuses": params.STATUSES,
        "filters": shown,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "total": total,
    }


def load_run(r: Reads, run: str) -> tuple[dict[str, Any], Manifest]:
    rows = r.rows(f"SELECT {RUN_COLUMNS}, manifest FROM meta.runs WHERE run_id = $r", {"r": run})
    if not rows:
        raise params.NotFound(f"no run {run!r}")
    row = rows[0]
    body = row.pop("manifest")
    manifest = Manifest.model_validate_json(body if isinstance(body, str) else json.dumps(body))
    return row, manifest


def run_page(src: Source, run: str) -> Page:
    params.run_id(run)
    if not src.has_warehouse():
        raise params.NotFound(f"no run {run!r}")
    with src.warehouse() as r:
        row, m = load_run(r, run)
        kinds = r.rows("SELECT kind FROM meta.reports WHERE run_id = $r", {"r": run})
    c = m.counts
    return "run.html", {
        "run": row,
        "m": m,
        "counts": c,
        "balanced": c.input == c.valid + c.rejected + c.duplicates,
        "reasons_chart": charts.bars(list(c.rejected_by_reason.items()), "rejections by reason"),
        "timings_chart": charts.bars(list(m.timings.items()), "step timings (s)"),
        "reports": sorted(str(k["kind"]) for k in kinds),
    }


def _rejected_filters(q: QueryParams, r: Reads) -> tuple[str, dict[str, Any], dict[str, str]]:
    ds = known_dataset(r, params.dataset(q))
    run = params.run_id(params.text(q, "run"))
    reason = params.reason(q)
    if run is not None and not r.rows("SELECT 1 AS x FROM meta.runs WHERE run_id = $r", {"r": run}):
        raise params.NotFound(f"no run {run!r}")
    where: list[str] = []
    bound: dict[str, Any] = {}
    if ds:
        where.append("dataset = $dataset")
        bound["dataset"] = ds
    if run:
        where.append("run_id = $run")
        bound["run"] = run
    if reason:
        where.append(r.array_contains("reasons", "reason"))
        bound["reason"] = reason
    shown = {"dataset": ds or "", "run": run or "", "reason": reason or ""}
    return (" WHERE " + " AND ".join(where)) if where else "", bound, shown


REJECTED_COLUMNS = "run_id, dataset, record, reasons, detail, source_file, source_line"


def rejected(src: Source, q: QueryParams) -> Page:
    page = params.page(q)
    if not src.has_warehouse():
        return "rejected.html", {"rows": [], "datasets": [], "filters": {}, "page": 1, "pages": 1}
    with src.warehouse() as r:
        where, bound, shown = _rejected_filters(q, r)
        order = "run_id, source_file, source_line"
        total, rows = _paged(r, "meta.rejected", REJECTED_COLUMNS, where, bound, order, page)
        names = datasets(r)
        reasons = _reasons(r, shown["dataset"] or None, shown["run"] or None)
    return "rejected.html", {
        "rows": rows,
        "datasets": names,
        "reasons": reasons,
        "filters": shown,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "total": total,
    }


def _reasons(r: Reads, ds: str | None, run: str | None) -> list[str]:
    """Reason codes seen in the chosen run, or the dataset's (or all) last 200 runs."""
    sql = "SELECT manifest FROM meta.runs"
    bound: dict[str, Any] = {}
    if run:
        sql += " WHERE run_id = $run"
        bound["run"] = run
    elif ds:
        sql += " WHERE dataset = $dataset"
        bound["dataset"] = ds
    rows = r.rows(sql + " ORDER BY started_at DESC LIMIT 200", bound)
    seen: set[str] = set()
    for row in rows:
        body = row["manifest"]
        doc = json.loads(body) if isinstance(body, str) else body or {}
        seen.update(doc.get("counts", {}).get("rejected_by_reason", {}))
    return sorted(seen)


def _cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ gets a quote first."""
    text = "" if value is None else ";".join(value) if isinstance(value, list) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def rejected_csv(src: Source, q: QueryParams) -> Iterator[str]:
    """The filtered rejected rows as CSV (at most `CSV_MAX_ROWS`), header first."""
    if not src.has_warehouse():
        raise params.NotFound("nothing has been run yet")
    with src.warehouse() as r:
        where, bound, _ = _rejected_filters(q, r)
        table = r.table(
            f"SELECT {REJECTED_COLUMNS} FROM meta.rejected{where} "
            "ORDER BY run_id, source_file, source_line LIMIT $limit",
            {**bound, "limit": CSV_MAX_ROWS},
        )
    return _csv_lines(table.column_names, table.to_batches())


def _csv_lines(names: list[str], batches: list[Any]) -> Iterator[str]:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(names)
    for batch in batches:
        for row in batch.to_pylist():
            w.writerow([_cell(row[n]) for n in names])
            if buf.tell() > 1 << 16:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
    yield buf.getvalue()
