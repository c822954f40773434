"""Stream, Sessions and Group: what is running now and what the friend group listens to.

The stream page reads the metrics each micro-batch records in its own transaction
(`meta.stream_metrics`); sessions come from the state store; the group page runs the group
analytics and the recommender (in DuckDB: on BigQuery over a copy of the plays), cached under
the warehouse's version.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.datastructures import QueryParams

from trackline.errors import TracklineError
from trackline.web.dashboard import charts, params
from trackline.web.dashboard.pages_runs import Page
from trackline.web.dashboard.source import Source

if TYPE_CHECKING:
    import duckdb

BATCHES = 2_000  # the most recent batches the stream page reads
SESSIONS = 100
POINTS = 300  # batches drawn in the stream's charts


def stream(src: Source, q: QueryParams) -> Page:
    ctx: dict[str, Any] = {"streams": [], "run": None, "batches": []}
    if not src.has_warehouse():
        return "stream.html", ctx
    run = params.run_id(params.text(q, "run"))
    with src.warehouse() as r:
        if not r.has_table("meta", "stream_metrics"):
            return "stream.html", ctx  # no stream has written to this warehouse yet
        streams = r.rows(
            "SELECT run_id, topic, min(committed_at) AS first_at, max(committed_at) AS last_at, "
            "sum(events) AS events, sum(rejected) AS rejected, count(*) AS batches "
            "FROM meta.stream_metrics GROUP BY run_id, topic ORDER BY last_at DESC LIMIT 20"
        )
        ctx["streams"] = streams
        if run is None and streams:
            run = str(streams[0]["run_id"])
        if run is None:
            return "stream.html", ctx
        batches = r.rows(
            "SELECT committed_at, events, valid, rejected, duplicates, seconds, lag, p50_ms, "
            "p99_ms FROM meta.stream_metrics WHERE run_id = $r "
            "ORDER BY committed_at DESC LIMIT $n",
            {"r": run, "n": BATCHES},
        )
        if not batches and not r.rows("SELECT 1 AS x FROM meta.runs WHERE run_id = $r", {"r": run}):
            raise params.NotFound(f"no stream run {run!r}")
    batches.reverse()
    ctx.update(run=run, batches=batches[-50:][::-1], **_series(batches))
    return "stream.html", ctx


def _series(batches: list[dict[str, Any]]) -> dict[str, Any]:
    """Per batch (the last `POINTS`): events/s since the previous commit, lag, p50/p99;
    per minute: dead letters (rejected events)."""
    if not batches:
        return {"summary": None}
    dead: dict[datetime, int] = defaultdict(int)
    for b in batches:
        dead[b["committed_at"].replace(second=0, microsecond=0)] += int(b["rejected"] or 0)
    span = (batches[-1]["committed_at"] - batches[0]["committed_at"]).total_seconds()
    span += float(batches[0]["seconds"] or 0)
    busy = sum(float(b["seconds"] or 0) for b in batches)
    total = sum(int(b["events"] or 0) for b in batches)
    rate: list[float | None] = []
    for i, b in enumerate(batches):
        gap = (
            (b["committed_at"] - batches[i - 1]["committed_at"]).total_seconds()
            if i
            else float(b["seconds"] or 0)
        )
        rate.append(int(b["events"] or 0) / gap if gap > 0 else None)
    shown = batches[-POINTS:]
    labels = [b["committed_at"].strftime("%H:%M:%S") for b in shown]
    minutes = sorted(dead)[-30:]
    return {
        "summary": {
            "events": total,
            "batches": len(batches),
            "events_per_second": total / span if span > 0 else None,
            "busy_events_per_second": total / busy if busy > 0 else None,
            "lag": batches[-1]["lag"],
            "p50_ms": batches[-1]["p50_ms"],
            "p99_ms": max((b["p99_ms"] or 0) for b in batches),
            "dead_letters": sum(int(b["rejected"] or 0) for b in batches),
        },
        "rate_chart": charts.lines(labels, [("events/s", rate[-POINTS:])], "events per second"),
        "lag_chart": charts.lines(labels, [("lag (messages)", [b["lag"] for b in shown])], "lag"),
        "latency_chart": charts.lines(
            labels,
            [("p50 ms", [b["p50_ms"] for b in shown]), ("p99 ms", [b["p99_ms"] for b in shown])],
            "latency",
        ),
        "dead_chart": charts.bars(
            [(m.strftime("%H:%M"), dead[m]) for m in minutes], "dead letters per minute"
        ),
    }


def sessions(src: Source, q: QueryParams) -> Page:
    status = params.choice(q, "status", params.SESSION_STATUSES)
    with src.state() as store:
        found = store.list_sessions(status, limit=SESSIONS)
    counts: dict[str, int] = defaultdict(int)
    for s in found:
        counts[s.status] += 1
    return "sessions.html", {
        "sessions": found,
        "status": status or "",
        "statuses": params.SESSION_STATUSES,
        "counts": dict(counts),
    }


def session(src: Source, session_id: str) -> Page:
    if not params.RUN_ID.fullmatch(session_id):
        raise params.NotFound("no such session")
    with src.state() as store:
        s = store.get_session(session_id)
        if s is None:
            raise params.NotFound(f"no session {session_id!r}")
        timeline = store.session_timeline(session_id)
    return "session.html", {"s": s, "timeline": timeline}


def group(src: Source, q: QueryParams) -> Page:
    from trackline.state.groups import list_groups

    with src.state() as store:
        groups = sorted(list_groups(store), key=lambda g: g.name)
    name = params.text(q, "group")
    ctx: dict[str, Any] = {"groups": groups, "group": None}
    if name is None:
        if not groups:
            return "group.html", ctx
        name = groups[0].name
    chosen = next((g for g in groups if g.name == name), None)
    if chosen is None:
        raise params.NotFound(f"no group {name!r}")
    ctx["group"] = chosen
    if src.kind not in ("duckdb", "bigquery"):
        ctx["error"] = "group analytics read the DuckDB warehouse (not available on this one)"
        return "group.html", ctx
    if not src.has_warehouse():
        ctx["error"] = "nothing loaded yet"
        return "group.html", ctx
    with src.warehouse() as r:
        version = r.version()
    value, at, fresh = src.background.get(
        ("group", chosen.name, tuple(chosen.user_ids)),
        version,
        lambda: _analyse(src, chosen.user_ids),
    )
    if value is None:
        ctx["computing"] = True  # the page refreshes itself until the report is ready
        return "group.html", ctx
    if isinstance(value, Exception):
        ctx["error"] = str(value) if isinstance(value, TracklineError) else "the report failed"
        return "group.html", ctx
    report, recs = value
    ctx["as_of"] = datetime.fromtimestamp(at or 0, UTC)
    ctx["stale"] = not fresh
    members = report["members"]
    plays = {u: report["per_member"][u]["plays"] for u in members}
    ctx.update(
        report=report,
        recs=recs,
        plays_chart=charts.bars(sorted(plays.items(), key=lambda kv: -kv[1]), "plays per member"),
        heatmap=charts.heatmap(
            members,
            {(o["user_a"], o["user_b"]): float(o["track_jaccard"] or 0) for o in report["overlap"]},
            "pairwise track overlap (Jaccard)",
        ),
    )
    return "group.html", ctx


def _analyse(src: Source, users: list[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The group report and recommendations. On DuckDB, on the dashboard's own warehouse
    cursor (a second opening of the file in this process would clash with the shared one); on
    BigQuery, on one in-memory copy of everyone's plays (recommendations need them all)."""
    if src.settings.warehouse_kind == "bigquery":
        from trackline.analytics.source import activity_connection

        with activity_connection(src.settings, groups_of=users) as copied:
            return _report_and_recs(src, copied, users)
    with src.warehouse() as r:
        con = getattr(r.wh, "con", None)
        if con is None:
            raise TracklineError("group analytics read the DuckDB warehouse")
        return _report_and_recs(src, con, users)


def _report_and_recs(
    src: Source, con: duckdb.DuckDBPyConnection, users: list[str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from trackline.analytics.group_listening import group_report
    from trackline.analytics.members import require_known
    from trackline.recommend import base
    from trackline.recommend.service import named, prepare

    require_known(src.settings, con, users)
    report = group_report(con, users, top_n=10, min_play_ms=src.settings.min_play_ms)
    prepare(con, min_play_ms=src.settings.min_play_ms)
    recs = named(con, base.get("knn").recommend(con, users, 10))
    return report, [x.as_dict() for x in recs]
