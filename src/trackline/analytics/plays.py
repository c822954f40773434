"""Listening activity read from the bronze tables, in the same shape as the dbt model
`silver.listening_activity`, so analytics work without `trackline model` (and without dbt).

A missing source table simply contributes nothing.
"""

from __future__ import annotations

import duckdb

LISTENS = """
SELECT DISTINCT ON (user_id, played_at, track_id)
    'listens' AS origin, user_id, track_id, track_name, artist_name, genre, country,
    played_at AS occurred_at, 'play' AS event_type, true AS is_play,
    coalesce(minutes_played, 0) AS minutes
FROM main.listens
"""
EVENTS = """
SELECT DISTINCT ON (event_id)
    'listening_events', user_id, song_id, CAST(NULL AS VARCHAR), artist_name, genre, country,
    "timestamp", event_type, event_type = 'play', 0.0
FROM main.listening_events
"""
EMPTY = """
SELECT CAST(NULL AS VARCHAR) AS origin, CAST(NULL AS VARCHAR) AS user_id,
    CAST(NULL AS VARCHAR) AS track_id, CAST(NULL AS VARCHAR) AS track_name,
    CAST(NULL AS VARCHAR) AS artist_name, CAST(NULL AS VARCHAR) AS genre,
    CAST(NULL AS VARCHAR) AS country, CAST(NULL AS TIMESTAMPTZ) AS occurred_at,
    CAST(NULL AS VARCHAR) AS event_type, false AS is_play, 0.0 AS minutes
WHERE false
"""


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_name = ?",
        [table],
    ).fetchone()
    return bool(row and row[0])


def activity_sql(con: duckdb.DuckDBPyConnection) -> str:
    """A SELECT over every listening event the warehouse holds (usable as a CTE body)."""
    parts = [EMPTY]
    if _exists(con, "listens"):
        parts.append(LISTENS)
    if _exists(con, "listening_events"):
        parts.append(EVENTS)
    return " UNION ALL ".join(f"({p})" for p in parts)
