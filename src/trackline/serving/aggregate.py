"""Daily aggregates from the warehouse into the serving store (`trackline aggregate`).

One SQL pass over the day's listening activity gives, per user, per genre and per country:
total events, plays, unique songs, listeners and minutes. Writing them again for the same day
replaces them (the row key is the day), so a rerun is safe.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from trackline.analytics.plays import activity_sql
from trackline.analytics.source import activity_connection
from trackline.config import Settings
from trackline.serving.base import open_store

log = logging.getLogger(__name__)
DIMENSIONS = ("user", "genre", "country")

SQL = """
WITH day AS (
    SELECT user_id, track_id, is_play, minutes,
           coalesce(genre, 'unknown') AS genre, coalesce(country, 'unknown') AS country
    FROM ({activity})
    WHERE CAST(timezone('UTC', occurred_at) AS DATE) = $day
),
sliced AS (
    SELECT 'user' AS dimension, user_id AS value, * FROM day
    UNION ALL SELECT 'genre', genre, * FROM day
    UNION ALL SELECT 'country', country, * FROM day
)
SELECT dimension, value,
       count(*) AS total_events,
       count(*) FILTER (WHERE is_play) AS plays,
       count(DISTINCT track_id) AS unique_songs,
       count(DISTINCT user_id) AS listeners,
       round(sum(minutes), 3) AS minutes
FROM sliced GROUP BY dimension, value ORDER BY dimension, value
"""


def yesterday() -> date:
    return (datetime.now(UTC) - timedelta(days=1)).date()


def daily_aggregates(
    con: duckdb.DuckDBPyConnection, day: date, *, min_play_ms: int
) -> list[dict[str, Any]]:
    activity = activity_sql(con, min_play_ms=min_play_ms)
    rel = con.execute(SQL.format(activity=activity), {"day": day})
    names = [d[0] for d in rel.description or []]
    return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]


def aggregate_day(settings: Settings, day: date | None = None) -> dict[str, Any]:
    """Compute `day`'s aggregates (yesterday, UTC, by default) and write them to the store."""
    day = day or yesterday()
    with activity_connection(settings, day=day) as con:  # on BigQuery, only that day's rows
        rows = daily_aggregates(con, day, min_play_ms=settings.min_play_ms)
    counts = {d: 0 for d in DIMENSIONS}
    with open_store(settings.serving) as store:
        metrics = [{k: v for k, v in r.items() if k not in ("dimension", "value")} for r in rows]
        store.write_aggregates(
            (r["dimension"], str(r["value"]), day, m) for r, m in zip(rows, metrics, strict=True)
        )
        uri = store.uri
    for r in rows:
        counts[r["dimension"]] += 1
    log.info("aggregate.done date=%s rows=%d store=%s", day, len(rows), uri)
    return {"date": day.isoformat(), "rows": counts, "written": len(rows), "serving_uri": uri}
