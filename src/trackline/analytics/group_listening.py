"""What a friend group wants to know, in a few DuckDB queries over the listening activity:

- each member's top tracks and artists;
- the group's top tracks, each with the member who played it most;
- every pair of members: shared tracks and artists, and Jaccard similarity of their sets;
- a blend: tracks that stand for the whole group (played by the most members, then weighted
  by each member's share of their own plays, so one heavy listener cannot dominate).

Ties are broken by id, so the same data always gives the same answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from trackline.analytics.plays import activity_sql
from trackline.analytics.source import activity_connection
from trackline.config import Settings
from trackline.core import duck
from trackline.errors import UsageError

MEMBER_ACTIVITY = """
CREATE OR REPLACE TEMP TABLE member_activity AS
WITH members AS (SELECT DISTINCT unnest(CAST($users AS VARCHAR[])) AS user_id),
activity AS ({activity})
SELECT a.user_id, a.track_id, a.artist_name, a.track_name, a.minutes, a.is_play, a.skipped,
       a.origin
FROM activity a JOIN members m USING (user_id)
"""
MEMBER_PLAYS = """
CREATE OR REPLACE TEMP VIEW member_plays AS
SELECT user_id, track_id, artist_name, track_name, minutes FROM member_activity WHERE is_play
"""
#: per member: plays, listens too short to be one, and skips (whether or not they count)
MEMBER_COUNTS = """
SELECT user_id, count(*) FILTER (WHERE is_play) AS plays,
       count(*) FILTER (WHERE NOT is_play AND origin = 'listens') AS short_listens,
       count(*) FILTER (WHERE skipped) AS skips
FROM member_activity GROUP BY user_id
"""

TOP_TRACKS = """
SELECT user_id, track_id, max(track_name) AS track_name, max(artist_name) AS artist_name,
       count(*) AS plays, round(sum(minutes), 2) AS minutes,
       row_number() OVER (PARTITION BY user_id ORDER BY count(*) DESC, track_id) AS rank
FROM member_plays GROUP BY user_id, track_id
QUALIFY rank <= $n ORDER BY user_id, rank
"""

TOP_ARTISTS = """
SELECT user_id, artist_name, count(*) AS plays, count(DISTINCT track_id) AS unique_tracks,
       row_number() OVER (PARTITION BY user_id ORDER BY count(*) DESC, artist_name) AS rank
FROM member_plays WHERE artist_name IS NOT NULL GROUP BY user_id, artist_name
QUALIFY rank <= $n ORDER BY user_id, rank
"""

GROUP_TOP = """
WITH per_member AS (
    SELECT track_id, user_id, count(*) AS plays, max(track_name) AS track_name,
           max(artist_name) AS artist_name
    FROM member_plays GROUP BY track_id, user_id
)
SELECT track_id, max(track_name) AS track_name, max(artist_name) AS artist_name,
       sum(plays) AS plays, count(*) AS members,
       first(user_id ORDER BY plays DESC, user_id) AS top_listener,
       max(plays) AS top_listener_plays
FROM per_member GROUP BY track_id
ORDER BY plays DESC, members DESC, track_id LIMIT $n
"""

OVERLAP = """
WITH members AS (SELECT DISTINCT unnest(CAST($users AS VARCHAR[])) AS user_id),
pairs AS (SELECT a.user_id AS user_a, b.user_id AS user_b
          FROM members a JOIN members b ON a.user_id < b.user_id),
tracks AS (SELECT DISTINCT user_id, track_id FROM member_plays),
artists AS (SELECT DISTINCT user_id, artist_name FROM member_plays
            WHERE artist_name IS NOT NULL),
tn AS (SELECT user_id, count(*) AS n FROM tracks GROUP BY user_id),
an AS (SELECT user_id, count(*) AS n FROM artists GROUP BY user_id),
st AS (SELECT p.user_a, p.user_b, count(*) AS n FROM pairs p
       JOIN tracks ta ON ta.user_id = p.user_a
       JOIN tracks tb ON tb.user_id = p.user_b AND tb.track_id = ta.track_id
       GROUP BY ALL),
sa AS (SELECT p.user_a, p.user_b, count(*) AS n FROM pairs p
       JOIN artists aa ON aa.user_id = p.user_a
       JOIN artists ab ON ab.user_id = p.user_b AND ab.artist_name = aa.artist_name
       GROUP BY ALL)
SELECT p.user_a, p.user_b,
       coalesce(st.n, 0) AS shared_tracks, coalesce(sa.n, 0) AS shared_artists,
       round(coalesce(st.n, 0) / nullif(coalesce(ta.n, 0) + coalesce(tb.n, 0)
             - coalesce(st.n, 0), 0), 4) AS track_jaccard,
       round(coalesce(sa.n, 0) / nullif(coalesce(aa.n, 0) + coalesce(ab.n, 0)
             - coalesce(sa.n, 0), 0), 4) AS artist_jaccard
FROM pairs p
LEFT JOIN st USING (user_a, user_b) LEFT JOIN sa USING (user_a, user_b)
LEFT JOIN tn ta ON ta.user_id = p.user_a LEFT JOIN tn tb ON tb.user_id = p.user_b
LEFT JOIN an aa ON aa.user_id = p.user_a LEFT JOIN an ab ON ab.user_id = p.user_b
ORDER BY track_jaccard DESC NULLS LAST, p.user_a, p.user_b
"""

BLEND = """
WITH per_member AS (
    SELECT user_id, track_id, count(*) AS plays, max(track_name) AS track_name,
           max(artist_name) AS artist_name
    FROM member_plays GROUP BY user_id, track_id
),
shares AS (
    SELECT *, plays / sum(plays) OVER (PARTITION BY user_id) AS share FROM per_member
)
SELECT track_id, max(track_name) AS track_name, max(artist_name) AS artist_name,
       count(*) AS members, list(user_id ORDER BY user_id) AS played_by,
       round(sum(share), 6) AS score
FROM shares GROUP BY track_id
ORDER BY members DESC, score DESC, track_id LIMIT $n
"""


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return list(duck.table(con, sql, params).to_pylist())


def group_report(
    con: duckdb.DuckDBPyConnection,
    users: Sequence[str],
    *,
    top_n: int = 10,
    min_play_ms: int,
) -> dict[str, Any]:
    """The whole report for these members on an open warehouse connection: only plays count
    (`analytics.plays`: a listen under `min_play_ms` does not)."""
    if not users:
        raise UsageError("a group needs at least one member")
    if top_n < 1:
        raise UsageError("--top must be at least 1")
    members = sorted(set(users))
    activity = activity_sql(con, min_play_ms=min_play_ms)
    con.execute(MEMBER_ACTIVITY.format(activity=activity), {"users": members})
    con.execute(MEMBER_PLAYS)
    n = {"n": top_n}
    tracks = _rows(con, TOP_TRACKS, n)
    artists = _rows(con, TOP_ARTISTS, n)
    per_member = {
        u: {
            "plays": 0,
            "short_listens": 0,
            "skips": 0,
            "top_tracks": [_drop(t, "user_id") for t in tracks if t["user_id"] == u],
            "top_artists": [_drop(a, "user_id") for a in artists if a["user_id"] == u],
        }
        for u in members
    }
    for u, plays, short, skips in con.execute(MEMBER_COUNTS).fetchall():
        per_member[str(u)].update(plays=int(plays), short_listens=int(short), skips=int(skips))
    return {
        "members": members,
        "per_member": per_member,
        "group_top_tracks": _rows(con, GROUP_TOP, n),
        "overlap": _rows(con, OVERLAP, {"users": members}),
        "blend": _rows(con, BLEND, n),
    }


def analyse_group(settings: Settings, users: Sequence[str], *, top_n: int = 10) -> dict[str, Any]:
    """Open the warehouse read-only (on BigQuery, a copy of the members' rows) and build the
    report."""
    from trackline.analytics.members import require_known

    with activity_connection(settings, users=users, groups_of=users) as con:
        require_known(settings, con, users)
        return group_report(con, users, top_n=top_n, min_play_ms=settings.min_play_ms)


def _drop(row: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != key}
