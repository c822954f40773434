"""Benchmark: the dashboard's server time and page weight on a big warehouse.

Builds a warehouse with `--runs` runs (default 1,000) of `listening_events` holding `--events`
rows in all (default 5,000,000), 5% of them rejected rows in `meta.rejected`, each run's
quality and slice reports in `meta.reports` (computed by the real report code on a sample of
runs and recorded for every run), a stream run with 2,000 batches of metrics, 200 sessions and
a five-member group. The rows are generated in DuckDB SQL (one INSERT ... SELECT), not through
`trackline ingest`: 1,000 ingests would take the bench's whole budget, and what the dashboard
reads (tables, `meta.*`) has the same shape either way.

Then it requests every page `--repeat` times in process (Starlette's TestClient, so no network;
server time is the app's own `server-timing`, from authentication to the rendered page,
warehouse opening included), with a different run, filter or pair each time, and prints per
page p50, p95 and max milliseconds and the largest page's bytes. The group page computes the
group analytics over every listening row on a thread (the page refreshes itself meanwhile):
the time until it is ready is reported apart as "cold"; later requests read the answer until
the warehouse changes.

    .venv/bin/python bench/dashboard.py                         # 1,000 runs, 5M events
    .venv/bin/python bench/dashboard.py --runs 100 --events 200000 --repeat 10

Targets (issue #28): p95 per page under 300 ms, page weight under 500 KB.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

TARGET_MS = 300.0
TARGET_BYTES = 500_000
MEMBERS = ["ana", "ben", "cy", "dee", "eli"]


def build(home: Path, runs: int, events: int) -> list[str]:
    """The warehouse and state store; the run ids, oldest first."""
    from trackline.config import Settings
    from trackline.contracts.loader import ContractRegistry
    from trackline.quality.profile import profile
    from trackline.quality.slices import slice_report
    from trackline.runs.manifest import Counts, InputRecord, Manifest, OutputRecord
    from trackline.warehouse.duckdb import DuckDBWarehouse

    settings = Settings.load(home=home)
    settings.ensure_home()
    contract = ContractRegistry().get("listening_events")
    wh = DuckDBWarehouse(settings.warehouse, settings)
    con = wh.con
    wh.ensure_table(contract, {"track_time_seconds": "DOUBLE", "progress_ratio": "DOUBLE"})
    per_run = events // runs
    ids = [f"r{i:015x}" for i in range(runs)]
    con.execute("CREATE TEMP TABLE run_ids AS SELECT * FROM unnest($ids) WITH ORDINALITY t(id, n)",
                {"ids": ids})  # fmt: skip
    t0 = time.perf_counter()
    con.execute(
        f"""
        INSERT INTO main.listening_events
        SELECT 'e' || i AS event_id,
            CASE WHEN i % 10 = 0 THEN ['ana','ben','cy','dee','eli'][1 + i % 5]
                 ELSE 'u' || (hash(i) % 1000) END,
            ['play','pause','skip','like','stop'][1 + (hash(i * 7) % 5)::INT],
            's' || (hash(i * 3) % 5000), 'artist ' || (hash(i * 5) % 400),
            ['rock','pop','jazz','hip-hop','folk','metal'][1 + (hash(i * 11) % 6)::INT],
            ['US','GB','DE','FR','BR','JP'][1 + (hash(i * 13) % 6)::INT],
            ['mobile','desktop','web','speaker','tv'][1 + (hash(i * 17) % 5)::INT],
            (hash(i * 19) % 180000)::BIGINT, 180000 + (hash(i * 23) % 120000)::BIGINT,
            TIMESTAMPTZ '2026-01-01' + to_seconds(i // 10),
            (180000 + (hash(i * 23) % 120000)) / 1000.0,
            (hash(i * 19) % 180000) / (180000 + (hash(i * 23) % 120000))::DOUBLE,
            'listens-' || (i // {per_run}) || '.ndjson', i % {per_run} + 1,
            TIMESTAMPTZ '2026-01-01' + to_seconds(i // {per_run} * 3600),
            (SELECT id FROM run_ids WHERE n = i // {per_run} + 1)
        FROM range({per_run * runs}) t(i)
        """
    )
    rejected_per_run = max(1, per_run // 20)
    con.execute(
        f"""
        INSERT INTO meta.rejected
        SELECT r.id, 'listening_events',
            '{{"event_id": "bad-' || i || '", "country": "' || ['U.K.','<script>x</script>','ZZZ'][1 + i % 3] || '"}}',
            [['pattern:country','required:user_id','malformed'][1 + i % 3]],
            NULL, 'listens-' || (r.n - 1) || '.ndjson', i + 1, TIMESTAMPTZ '2026-01-01'
        FROM run_ids r, range({rejected_per_run}) t(i)
        """  # noqa: E501
    )
    built = time.perf_counter() - t0
    started = datetime(2026, 1, 1, tzinfo=UTC)
    bodies: list[tuple[dict[str, Any], dict[str, Any]]] = []
    sample = ids[:: max(1, runs // 20)][:20]
    for run in sample:  # the real report code on a sample of runs, recorded for all of them
        rel = "(SELECT * FROM main.listening_events WHERE run_id = $run)"
        q = profile(con, rel, contract, rejected_by_reason={}, rejected_rows=0, duplicates=0,
                    params={"run": run})  # fmt: skip
        s = slice_report(con, rel, contract, min_n=30, min_share=0.5, params={"run": run})
        bodies.append((q, s))
    rows = []
    for i, run in enumerate(ids):
        counts = Counts(input=per_run + rejected_per_run, valid=per_run, rejected=rejected_per_run,
                        rejected_by_reason={"pattern:country": rejected_per_run})  # fmt: skip
        m = Manifest(
            run_id=run, dataset="listening_events", status="done" if i % 50 else "failed",
            contract={"name": "listening_events", "version": 1}, config_hash="x",
            package_version="bench", started_at=started + timedelta(hours=i),
            finished_at=started + timedelta(hours=i, seconds=3), counts=counts,
            inputs=[InputRecord(uri=f"listens-{i}.ndjson", format="ndjson", bytes=10**6,
                                sha256="ab" * 32)],
            outputs={"curated": [OutputRecord(path=f"curated/x/part-{run}-0.parquet",
                                              rows=per_run, bytes=10**5, sha256="cd" * 32)]},
            timings={"hash": 0.1, "validate": 1.2, "dedup": 0.3, "reports": 0.2},
        )  # fmt: skip
        rows.append((run, m))
        q, s = bodies[i % len(bodies)]
        for kind, body in (("quality", q), ("slices", s)):
            con.execute("INSERT INTO meta.reports VALUES ($r, 'listening_events', $k, $b)",
                        {"r": run, "k": kind, "b": json.dumps(body, default=str)})  # fmt: skip
    con.executemany(
        "INSERT INTO meta.runs VALUES (?, 'listening_events', ?, ?, ?, ?, ?, ?, 0, 'lake', "
        "NULL, ?)",
        [
            [r, m.status, m.started_at, m.finished_at, m.counts.input, m.counts.valid,
             m.counts.rejected, m.model_dump_json()]
            for r, m in rows
        ],
    )  # fmt: skip
    con.execute(
        "INSERT INTO meta.stream_metrics SELECT 'stream-bench', 'events', "
        "TIMESTAMPTZ '2026-06-01' + to_seconds(i * 2), 5000, 4750, 240, 10, 0.4, "
        "(hash(i) % 20000)::BIGINT, 200 + hash(i) % 300, 900 + hash(i) % 900 FROM range(2000) t(i)"
    )
    wh.close()
    _people(settings)
    print(f"built {per_run * runs:,} events in {runs:,} runs in {built:.1f}s (+ reports)")
    return ids


def _people(settings: Any) -> None:
    from trackline.state import open_state
    from trackline.state.groups import create_group

    store = open_state(settings)
    try:
        for u in MEMBERS:
            store.add_user(u)
        create_group(store, "club", MEMBERS)
        for _ in range(200):
            store.create_session(MEMBERS[:3])
    finally:
        store.close()


def paths(ids: list[str], rnd: random.Random) -> dict[str, Any]:
    """Each page: a function giving the next request's path (a different run each time)."""
    pick = lambda: rnd.choice(ids)  # noqa: E731
    return {
        "overview": lambda: "/",
        "runs": lambda: f"/runs?page={rnd.randint(1, 20)}",
        "runs filtered": lambda: "/runs?dataset=listening_events&status=done"
        f"&from=2026-01-{rnd.randint(1, 28):02d}",
        "run": lambda: f"/runs/{pick()}",
        "quality": lambda: f"/quality?run={pick()}",
        "bias": lambda: f"/bias?run={pick()}",
        "drift": lambda: f"/drift?dataset=listening_events&a={pick()}&b={pick()}",
        "rejected": lambda: f"/rejected?dataset=listening_events&page={rnd.randint(1, 100)}",
        "rejected by run": lambda: f"/rejected?run={pick()}&reason=pattern:country",
        "rejected.csv": lambda: f"/rejected.csv?run={pick()}",
        "stream": lambda: "/stream",
        "sessions": lambda: "/sessions",
        "group": lambda: "/group?group=club",
    }  # fmt: skip


def measure(home: Path, ids: list[str], repeat: int) -> dict[str, Any]:
    from starlette.testclient import TestClient

    from trackline.config import Settings
    from trackline.web.dashboard.app import create_app

    client = TestClient(create_app(Settings.load(home=home)))
    rnd = random.Random(1)
    out: dict[str, Any] = {}
    for name, make in paths(ids, rnd).items():
        times, sizes = [], []
        cold = None
        if name == "group":  # computed on a thread; the page refreshes itself until then
            began = time.perf_counter()
            while 'id="computing"' in client.get(make()).text:
                time.sleep(0.1)
            cold = 1000 * (time.perf_counter() - began)
        for _ in range(repeat):
            r = client.get(make())
            assert r.status_code == 200, (name, r.status_code, r.text[-300:])
            server = r.headers.get("server-timing", "app;dur=nan").split("dur=")[1]
            times.append(float(server))
            sizes.append(len(r.content))
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        out[name] = {
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(p95, 1),
            "max_ms": round(times[-1], 1),
            "max_bytes": max(sizes),
            **({"cold_ms": round(cold, 1)} if cold is not None else {}),
        }
        ok = p95 < TARGET_MS and max(sizes) < TARGET_BYTES
        cold_text = f" (cold {cold:.0f} ms)" if cold is not None else ""
        print(
            f"{name:16s} p50 {out[name]['p50_ms']:7.1f} ms  p95 {p95:7.1f} ms  "
            f"max {times[-1]:7.1f} ms  {max(sizes) / 1000:7.1f} KB  "
            f"{'ok' if ok else 'OVER'}{cold_text}"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--events", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--home", type=Path, help="build here (default: a temporary folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = args.home or Path(tmp) / "home"
        ids = build(home, args.runs, args.events)
        result = measure(home, ids, args.repeat)
    print(json.dumps({"runs": args.runs, "events": args.events, "pages": result}, indent=2))


if __name__ == "__main__":
    main()
