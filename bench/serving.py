"""Benchmark: serving-store reads by key, p50 / p99 over 1,000 keys, per backend.

Writes 1,000 users x 20 events and 1,000 daily aggregates, then reads every user's newest 20
events (one range scan each) and every aggregate (one point read each), in random order.
Redis is measured when it listens on 127.0.0.1:6379; Bigtable when BIGTABLE_EMULATOR_HOST
names its emulator (`bash scripts/services/bigtable.sh`: 127.0.0.1:8087).

    .venv/bin/python bench/serving.py
"""

from __future__ import annotations

import json
import os
import random
import socket
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from trackline.serving import ServingStore, open_store

KEYS = 1000
EVENTS_PER_USER = 20
T0 = datetime(2024, 5, 1, tzinfo=UTC)
DAY = date(2024, 5, 1)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def measure(store: ServingStore) -> dict[str, Any]:
    users = [f"user_{i:05d}" for i in range(KEYS)]
    start = time.perf_counter()
    store.write_events(
        (u, T0 + timedelta(minutes=j), {"track": f"t{j}"}, f"e{j}")
        for u in users
        for j in range(EVENTS_PER_USER)
    )
    store.write_aggregates(("user", u, DAY, {"plays": i}) for i, u in enumerate(users))
    write = time.perf_counter() - start
    rng = random.Random(0)
    order = rng.sample(users, len(users))
    scans, points = [], []
    end = T0 + timedelta(days=1)
    for u in order:
        t = time.perf_counter()
        got = store.get_user_events(u, T0, end, limit=EVENTS_PER_USER)
        scans.append((time.perf_counter() - t) * 1000)
        assert len(got) == EVENTS_PER_USER
        t = time.perf_counter()
        assert store.get_daily_aggregates("user", u, DAY) is not None
        points.append((time.perf_counter() - t) * 1000)
    return {
        "write_seconds": round(write, 3),
        "timeline_ms": {
            "p50": round(statistics.median(scans), 3),
            "p99": round(percentile(scans, 0.99), 3),
        },
        "aggregate_ms": {
            "p50": round(statistics.median(points), 3),
            "p99": round(percentile(points, 0.99), 3),
        },
    }


def main() -> None:
    results = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        open_store(f"sqlite:///{Path(tmp) / 'serving.sqlite'}") as store,
    ):
        results["sqlite"] = measure(store)
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        results["redis"] = {"skipped": "nothing listens on 127.0.0.1:6379"}
    else:
        prefix = f"trackline-bench-{uuid.uuid4().hex[:8]}"
        with open_store(f"redis://127.0.0.1:6379/0?prefix={prefix}") as store:
            try:
                results["redis"] = measure(store)
            finally:
                for table in ("events", "daily"):
                    store.kv.drop(table)  # type: ignore[attr-defined]
    if os.environ.get("BIGTABLE_EMULATOR_HOST"):
        uri = f"bigtable://bench-project/bench-{uuid.uuid4().hex[:8]}"
        with open_store(uri) as store:
            try:
                results["bigtable_emulator"] = measure(store)
            finally:
                for table in ("events", "daily"):
                    store.kv.drop(table)  # type: ignore[attr-defined]
    else:
        results["bigtable_emulator"] = {"skipped": "BIGTABLE_EMULATOR_HOST is not set"}
    print(json.dumps({"keys": KEYS, "events_per_user": EVENTS_PER_USER, **results}, indent=2))


if __name__ == "__main__":
    main()
