"""Views the warehouse keeps beside a contract's table, created whenever the table is ensured.

`feedback` gets the per-session aggregates that `trackline sessions feedback` and dashboards
read: likes, skips and dislikes per track and per member. They are views, not tables, so they
are current as soon as a batch or a stream micro-batch commits (dedup on `event_id` happens
when rows are written, so every event counts once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trackline.warehouse.base import Warehouse

_COUNTS = """
    count(*) FILTER (WHERE action = 'like') AS likes,
    count(*) FILTER (WHERE action = 'skip') AS skips,
    count(*) FILTER (WHERE action = 'dislike') AS dislikes,
    count(*) AS events,
    max("timestamp") AS last_event_at"""

#: dataset -> view name -> SELECT (the view is `CREATE OR REPLACE VIEW main.<name> AS ...`).
VIEWS: dict[str, dict[str, str]] = {
    "feedback": {
        "session_feedback_by_track": f"""
            SELECT session_id, track_id, {_COUNTS},
                count(DISTINCT user_id) AS members
            FROM main.feedback GROUP BY session_id, track_id""",
        "session_feedback_by_member": f"""
            SELECT session_id, user_id, {_COUNTS},
                count(DISTINCT track_id) AS tracks
            FROM main.feedback GROUP BY session_id, user_id""",
    },
}


def create_views(con: Any, dataset: str) -> list[str]:
    """(Re)create the dataset's views on a DuckDB connection; returns their names."""
    views = VIEWS.get(dataset, {})
    for name, select in views.items():
        con.execute(f"CREATE OR REPLACE VIEW main.{name} AS {select}")
    return list(views)


def session_feedback(wh: Warehouse, session_id: str) -> dict[str, Any]:
    """One session's feedback aggregates: totals, per track (most liked first), per member."""
    exists = wh.query(
        "SELECT count(*) AS n FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_name = 'session_feedback_by_track'"
    ).to_pylist()[0]["n"]
    if not exists:
        return no_feedback(session_id)
    params = {"sid": session_id}
    by_track = wh.query(
        "SELECT track_id, likes, skips, dislikes, events, members, last_event_at "
        "FROM main.session_feedback_by_track WHERE session_id = $sid "
        "ORDER BY likes DESC, dislikes ASC, track_id",
        params,
    ).to_pylist()
    by_member = wh.query(
        "SELECT user_id, likes, skips, dislikes, events, tracks, last_event_at "
        "FROM main.session_feedback_by_member WHERE session_id = $sid ORDER BY user_id",
        params,
    ).to_pylist()
    return {
        "session_id": session_id,
        "totals": _totals(by_member),
        "by_track": by_track,
        "by_member": by_member,
    }


def no_feedback(session_id: str) -> dict[str, Any]:
    return {"session_id": session_id, "totals": _totals([]), "by_track": [], "by_member": []}


def _totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    keys = ("likes", "skips", "dislikes", "events")
    return {k: int(sum(r[k] for r in rows)) for k in keys}
