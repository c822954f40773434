"""Listening activity read from the bronze tables, in the same shape as the dbt model
`silver.listening_activity`, so analytics work without `trackline model` (and without dbt).

What counts as a play (`is_play`): a listen of at least `min_play_ms` (setting, default 30 s,
Spotify's own rule) or of unknown length (the API's recently-played rows carry none), and an
app `play` event. Shorter listens stay in the activity with `is_play` false; a skip is marked
(`skipped`: the export's flag, or an app `skip` event) whether or not it counts as a play.

One play is one row even across contract versions: `listens` v1 kept the API's milliseconds,
v2 stores the second, so rows are told apart by the second.

A missing source table simply contributes nothing. `COLUMNS` names what the SQL reads of each
table (a copy from another warehouse needs no more), `EVENT_TIME` the column that dates a row.
"""

from __future__ import annotations

import duckdb

LISTENS = """
SELECT DISTINCT ON (user_id, date_trunc('second', played_at), track_id)
    'listens' AS origin, user_id, track_id, track_name, artist_name, genre, country,
    played_at AS occurred_at, 'play' AS event_type,
    coalesce(ms_played >= {min_play_ms}, true) AS is_play,
    coalesce(skipped, false) AS skipped, ms_played,
    coalesce(minutes_played, 0) AS minutes
FROM main.listens
"""
EVENTS = """
SELECT DISTINCT ON (event_id)
    'listening_events', user_id, song_id, CAST(NULL AS VARCHAR), artist_name, genre, country,
    "timestamp", event_type, event_type = 'play', event_type = 'skip', CAST(NULL AS BIGINT), 0.0
FROM main.listening_events
"""
EMPTY = """
SELECT CAST(NULL AS VARCHAR) AS origin, CAST(NULL AS VARCHAR) AS user_id,
    CAST(NULL AS VARCHAR) AS track_id, CAST(NULL AS VARCHAR) AS track_name,
    CAST(NULL AS VARCHAR) AS artist_name, CAST(NULL AS VARCHAR) AS genre,
    CAST(NULL AS VARCHAR) AS country, CAST(NULL AS TIMESTAMPTZ) AS occurred_at,
    CAST(NULL AS VARCHAR) AS event_type, false AS is_play, false AS skipped,
    CAST(NULL AS BIGINT) AS ms_played, 0.0 AS minutes
WHERE false
"""

COLUMNS = {
    "listens": (
        "user_id", "track_id", "track_name", "artist_name", "genre", "country", "played_at",
        "ms_played", "skipped", "minutes_played",
    ),
    "listening_events": (
        "event_id", "user_id", "song_id", "artist_name", "genre", "country", "timestamp",
        "event_type",
    ),
}  # fmt: skip
EVENT_TIME = {"listens": "played_at", "listening_events": "timestamp"}


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_name = ?",
        [table],
    ).fetchone()
    return bool(row and row[0])


def activity_sql(con: duckdb.DuckDBPyConnection, *, min_play_ms: int) -> str:
    """A SELECT over every listening event the warehouse holds (usable as a CTE body)."""
    if min_play_ms < 0:
        raise ValueError("min_play_ms must be at least 0")
    parts = [EMPTY]
    if _exists(con, "listens"):
        parts.append(LISTENS.format(min_play_ms=int(min_play_ms)))
    if _exists(con, "listening_events"):
        parts.append(EVENTS)
    return " UNION ALL ".join(f"({p})" for p in parts)
