"""Benchmark: `trackline model` (every layer, every dbt test) over N listening events.

The warehouse is filled straight in DuckDB (half `listens`, half `listening_events`; 600
listeners, 5,000 tracks with a skewed popularity, 30 days) so the benchmark measures the models,
not the generator. `trackline model` runs in a child process: its wall time and peak RSS are
its own. A named group of 50 listeners gives `group_overlap` real work.

    .venv/bin/python bench/model.py                  # 5M events
    .venv/bin/python bench/model.py --events 200000  # quick
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

USERS = 600
TRACKS = 5000


def populate(home: Path, events: int, group_size: int = 50) -> None:
    """Fill the warehouse under `home` with `events` synthetic listening events."""
    from trackline.config import Settings
    from trackline.contracts.loader import ContractRegistry
    from trackline.models.sources import ensure_sources
    from trackline.warehouse.duckdb import DuckDBWarehouse

    settings = Settings.load(home=home)
    settings.ensure_home()
    wh = DuckDBWarehouse(settings.warehouse, settings)
    try:
        ensure_sources(wh, ContractRegistry())
        half = events // 2
        pick = f"""
            SELECT i,
                'user_' || lpad(CAST(CAST(floor({USERS} * pow(random(), 1.5)) AS INT) + 1
                    AS VARCHAR), 4, '0') AS user_id,
                CAST(floor({TRACKS} * pow(random(), 2)) AS INT) AS t,
                now() - to_milliseconds(CAST(random() * 30 * 86400000 AS BIGINT)) AS ts
            FROM range({{n}}) r(i)"""
        wh.con.execute("SELECT setseed(0.42)")
        wh.con.execute(f"""
            INSERT INTO main.listens BY NAME
            SELECT user_id, ts + to_microseconds(i % 1000) AS played_at,
                   'track_' || t AS track_id, 'Track ' || t AS track_name,
                   'artist_' || (t % 400) AS artist_id, 'Artist ' || (t % 400) AS artist_name,
                   'spotify_api' AS source, 120000 + (t % 7) * 1000 AS duration_ms,
                   CAST(random() * 120000 AS BIGINT) AS ms_played,
                   ['pop', 'rock', 'hip hop', 'latin', 'jazz'][1 + t % 5] AS genre,
                   ['US', 'GB', 'DE', 'BR', 'JP'][CAST(1 + hash(user_id) % 5 AS BIGINT)] AS country,
                   CAST(random() * 120000 AS BIGINT) / 60000.0 AS minutes_played,
                   now() AS ingestion_time, 'bench' AS run_id
            FROM ({pick.format(n=half)})""")
        wh.con.execute(f"""
            INSERT INTO main.listening_events BY NAME
            SELECT 'ev-' || i AS event_id, user_id,
                   ['play', 'skip', 'pause', 'resume', 'like', 'stop'][1 + i % 6] AS event_type,
                   'track_' || t AS song_id, 'Artist ' || (t % 400) AS artist_name,
                   ['pop', 'rock', 'hip hop', 'latin', 'jazz'][1 + t % 5] AS genre,
                   ['US', 'GB', 'DE', 'BR', 'JP'][CAST(1 + hash(user_id) % 5 AS BIGINT)] AS country,
                   'mobile' AS device, 1000 AS position_ms, 120000 AS duration_ms,
                   ts AS "timestamp", now() AS ingestion_time, 'bench' AS run_id
            FROM ({pick.format(n=events - half)})""")
        wh.con.execute(
            "INSERT OR REPLACE INTO meta.groups (group_id, user_id) "
            f"SELECT 'bench', 'user_' || lpad(CAST(i AS VARCHAR), 4, '0') "
            f"FROM range(1, {group_size + 1}) r(i)"
        )
    finally:
        wh.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        start = time.perf_counter()
        populate(home, args.events)
        filled = time.perf_counter() - start
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLINE_")}
        env["TRACKLINE_HOME"] = str(home)
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "trackline", "model", "--json"],
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if proc.returncode != 0:
            sys.exit(f"trackline model failed:\n{proc.stderr[-3000:]}")
        summary = json.loads(proc.stdout)
        slowest = sorted(summary["nodes"], key=lambda n: -n["seconds"])[:5]
        print(
            json.dumps(
                {
                    "events": args.events,
                    "fill_seconds": round(filled, 1),
                    "model_seconds": round(seconds, 1),
                    "dbt_seconds": summary["seconds"],
                    "peak_rss_mb": round(peak),
                    "events_per_second": round(args.events / seconds),
                    "models": summary["models"],
                    "tests": summary["tests"],
                    "slowest": [(n["name"], n["seconds"]) for n in slowest],
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
