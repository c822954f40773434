"""Benchmark: pairwise overlap (and the whole group report) for a group of 50 members.

Fills a warehouse like bench/model.py (default 1M listening events), then times the group
analytics in DuckDB: the report for 50 members (1,225 pairs) and the overlap query alone.

    .venv/bin/python bench/overlap.py
    .venv/bin/python bench/overlap.py --events 5000000 --members 50
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from model import populate
from trackline.analytics.group_listening import (
    MEMBER_ACTIVITY,
    MEMBER_PLAYS,
    OVERLAP,
    group_report,
)
from trackline.analytics.plays import activity_sql
from trackline.config import Settings
from trackline.core import duck


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        populate(home, args.events, group_size=args.members)
        settings = Settings.load(home=home)
        con = duck.connect(settings.warehouse, read_only=True)
        users = [f"user_{i:04d}" for i in range(1, args.members + 1)]
        reports, overlaps = [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            report = group_report(con, users, min_play_ms=settings.min_play_ms)
            reports.append(time.perf_counter() - start)
            activity = activity_sql(con, min_play_ms=settings.min_play_ms)
            con.execute(MEMBER_ACTIVITY.format(activity=activity), {"users": users})
            con.execute(MEMBER_PLAYS)
            start = time.perf_counter()
            pairs = con.execute(OVERLAP, {"users": users}).fetchall()
            overlaps.append(time.perf_counter() - start)
        con.close()
    print(
        json.dumps(
            {
                "events": args.events,
                "members": args.members,
                "pairs": len(pairs),
                "member_plays": sum(m["plays"] for m in report["per_member"].values()),
                "report_seconds_median": round(statistics.median(reports), 3),
                "overlap_seconds_median": round(statistics.median(overlaps), 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
