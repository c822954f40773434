"""Benchmark: sessions of users against the fake APIs, drained by N pull workers.

200 sessions of 5 users (Spotify) by default, announced on the embedded log bus and pulled by
2 worker threads (each with its own state store connection), through the real connectors, HTTP
client, contracts, lake and warehouse. Prints sessions per minute and the share of the
workers' time spent waiting on HTTP (sum of response times / sum of member pipeline time).

DuckDB lets one process write the warehouse at a time, so the workers share one process and
ingest one at a time; HTTP waits overlap. Across machines, use a warehouse per worker or
BigQuery.

    .venv/bin/python bench/sessions.py                          # 200 sessions x 5 users, 2 workers
    .venv/bin/python bench/sessions.py --sessions 20 --users 5 --workers 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--users", type=int, default=5, help="members per session")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--plays", type=int, default=50, help="recent plays per fake user")
    args = ap.parse_args()

    from trackline import sessions
    from trackline.bus.base import open_bus
    from trackline.config import Settings
    from trackline.fakeapi import FakeAPI, serve
    from trackline.sessions.pull import pull_loop
    from trackline.state import open_state

    with (
        tempfile.TemporaryDirectory() as tmp,
        serve(FakeAPI.create(plays_per_user=args.plays)) as fake,
    ):
        settings = Settings.load(home=Path(tmp) / "home", **fake.settings_overrides())
        store = open_state(settings)
        users = [f"u{i:04d}" for i in range(args.sessions * args.users)]
        for u in users:
            store.add_user(u)
            store.set_refresh_token(u, "spotify", fake.spotify_auth.issue_refresh_token(u))
        ids = [
            sessions.create_session(
                settings, store, users[i * args.users : (i + 1) * args.users]
            ).session_id
            for i in range(args.sessions)
        ]
        summaries = []

        def work(n: int) -> None:
            own = open_state(settings)
            bus = open_bus(None, settings)
            try:
                summaries.append(
                    pull_loop(settings, own, bus, f"bench-{n}", idle_exit=2.0, poll_seconds=0.2)
                )
            finally:
                bus.close()
                own.close()

        start = time.perf_counter()
        threads = [threading.Thread(target=work, args=(n,)) for n in range(args.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start - 2.0  # minus the idle wait at the end
        done = [store.get_session(i) for i in ids]
        statuses = [s.status for s in done if s is not None]
        outcomes = [o for s in done if s is not None for o in s.outcomes.values()]
        http = sum(float(o.get("http_seconds", 0)) for o in outcomes)
        busy = sum(float(o.get("seconds", 0)) for o in outcomes)
        store.close()
    ran = sum(s.ran for s in summaries)
    print(f"sessions: {args.sessions} x {args.users} users, {args.workers} workers")
    print(f"  done {statuses.count('done')}, error {statuses.count('error')}, ran {ran}")
    print(f"  wall {wall:.1f}s -> {args.sessions / wall * 60:.1f} sessions/min")
    print(f"  member pipeline time {busy:.1f}s, of which waiting on HTTP {http:.1f}s")
    print(f"  share of worker time waiting on HTTP: {http / busy:.1%}" if busy else "")


if __name__ == "__main__":
    main()
