"""Recommendations for members of the warehouse's listening history (on BigQuery, computed
over an in-memory copy of everyone's plays: `analytics/source.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import duckdb

from trackline.analytics.members import require_known
from trackline.analytics.plays import activity_sql
from trackline.analytics.source import activity_connection
from trackline.config import Settings
from trackline.errors import UsageError
from trackline.recommend import base
from trackline.recommend.base import Recommendation


def prepare(con: duckdb.DuckDBPyConnection, *, min_play_ms: int) -> None:
    """Expose the warehouse's plays as `plays_source`, the relation recommenders read (a
    listen under `min_play_ms` is not a play: it neither shapes taste nor excludes a track)."""
    activity = activity_sql(con, min_play_ms=min_play_ms)
    con.execute(
        "CREATE OR REPLACE TEMP VIEW plays_source AS "
        f"SELECT user_id, track_id, track_name, artist_name FROM ({activity}) WHERE is_play"
    )


def named(con: duckdb.DuckDBPyConnection, recs: list[Recommendation]) -> list[Recommendation]:
    """The recommendations with their track and artist names (from `plays_source`)."""
    if not recs:
        return recs
    rows = con.execute(
        "SELECT track_id, max(track_name), max(artist_name) FROM plays_source "
        "WHERE track_id IN (SELECT unnest(CAST($ids AS VARCHAR[]))) GROUP BY track_id",
        {"ids": [r.track_id for r in recs]},
    ).fetchall()
    names = {r[0]: (r[1], r[2]) for r in rows}
    out = []
    for r in recs:
        track_name, artist_name = names.get(r.track_id, (None, None))
        out.append(replace(r, track_name=track_name, artist_name=artist_name))
    return out


def recommend(
    settings: Settings,
    users: Sequence[str],
    *,
    n: int = 20,
    method: str = "knn",
    seed: int = 0,
) -> list[Recommendation]:
    if n < 1:
        raise UsageError("--n must be at least 1")
    if not users:
        raise UsageError("recommend for a member (--user) or a group (--group)")
    recommender = base.get(method, seed)
    # everyone's plays: similar listeners (knn) and the factors (als) come from all of them
    with activity_connection(settings, groups_of=users) as con:
        require_known(settings, con, users)
        prepare(con, min_play_ms=settings.min_play_ms)
        return named(con, recommender.recommend(con, users, n))
