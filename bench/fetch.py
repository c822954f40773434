"""Benchmark: 50 users x 2,000 recent plays each from the fake Spotify API, with 5% of
responses failing (2.5% 500, 2.5% 429 with Retry-After 0), through the real connector, HTTP
client, retries, token refresh, state store (SQLite) and spool (ingest excluded: bench/batch.py
measures that).

Prints plays/s, requests/s, retries, and the ratio of wall time to an ideal of
(requests x median latency / concurrency): 1.0 would mean no time lost to retries, backoff,
Python overhead or uneven work across users.

    .venv/bin/python bench/fetch.py                    # 50 users x 2,000 plays
    .venv/bin/python bench/fetch.py --users 10 --plays 500 --concurrency 8
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--plays", type=int, default=2000)
    ap.add_argument("--fault-rate", type=float, default=0.05)
    ap.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    args = ap.parse_args()

    from trackline.config import Settings
    from trackline.core.http import HttpClient
    from trackline.fakeapi import FakeAPI, FaultRates, serve
    from trackline.pipelines.fetch import fetch_users
    from trackline.state import open_state

    rates = FaultRates(fail_rate=args.fault_rate / 2, rate_limit_rate=args.fault_rate / 2)
    fake = FakeAPI.create(plays_per_user=args.plays, window=None, rates=rates)
    with tempfile.TemporaryDirectory() as tmp, serve(fake) as api:
        settings = Settings.load(
            home=Path(tmp),
            http_backoff_seconds=0.02,
            http_backoff_max_seconds=0.5,
            http_max_attempts=8,
            http_max_concurrency=args.concurrency,
            fetch_user_concurrency=args.concurrency,
            **api.settings_overrides(),
        )
        store = open_state(settings)  # the real store: SQLite under the home, tokens encrypted
        users = [f"bench_{i:03d}" for i in range(args.users)]
        for u in users:
            store.add_user(u)
            store.set_refresh_token(u, "spotify", api.spotify_auth.issue_refresh_token(u))
        http = HttpClient.from_settings(settings)
        start = time.perf_counter()
        summary = fetch_users(settings, "spotify", users, state=store, http=http, ingest=False)
        wall = time.perf_counter() - start
        http.close()
        store.close()
    plays = sum(r.fetched.get("listens", 0) for r in summary.results)
    failed = [r for r in summary.results if r.status != "ok"]
    stats = http.stats
    median = stats.median_latency()
    ideal = stats.requests * median / args.concurrency
    print(f"users                {args.users} ({len(failed)} not ok)")
    print(f"plays fetched        {plays} (expected {args.users * args.plays})")
    print(f"wall time            {wall:.2f} s")
    print(f"plays/s              {plays / wall:,.0f}")
    print(f"requests             {stats.requests} ({stats.requests / wall:,.0f}/s)")
    print(f"retries              {stats.retries}  (faults injected: {fake.faults.injected})")
    print(f"status counts        {dict(sorted(stats.by_status.items()))}")
    print(f"median latency       {median * 1000:.1f} ms, concurrency {args.concurrency}")
    print(f"ideal wall           {ideal:.2f} s  (requests x median latency / concurrency)")
    print(f"ratio wall / ideal   {wall / ideal:.2f}" if ideal else "ratio n/a")
    for r in failed[:5]:
        print(f"  {r.user_id}: {r.status}: {r.error}")


if __name__ == "__main__":
    main()
