"""Benchmark: workers draining sessions through the state store (claim, 5 outcomes, finish).

For each backend (SQLite always; PostgreSQL when TRACKLINE_BENCH_POSTGRES_URL is set, e.g.
postgresql://postgres@127.0.0.1:5432/test; Firestore when FIRESTORE_EMULATOR_HOST names its
emulator, e.g. 127.0.0.1:8086), N sessions of 5 users are drained by 1 worker and
then by W workers (threads, one store connection each, all trying every session in the same
order, so they contend). Prints sessions/s, lost claims, and the ratio W-worker/1-worker
throughput. Every session must end `done` exactly once.

    .venv/bin/python bench/state.py [--sessions 300] [--workers 4]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path

from trackline.config import Settings
from trackline.state import StateStore, open_state

USERS = 5


def _drain(settings: Settings, ids: list[str], workers: int) -> tuple[float, int]:
    stores = [open_state(settings) for _ in range(workers)]
    lost = [0] * workers
    barrier = threading.Barrier(workers)

    def run(n: int) -> None:
        store = stores[n]
        barrier.wait()
        for sid in ids:
            if not store.claim_session(sid, f"w{n}", 300):
                lost[n] += 1
                continue
            for u in range(USERS):
                store.record_user_outcome(sid, f"u{u}", {"status": "ok", "rows": u})
            store.finish_session(sid, f"w{n}", "done")

    threads = [threading.Thread(target=run, args=(n,)) for n in range(workers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    for s in stores:
        s.close()
    return elapsed, sum(lost)


def _prepare(store: StateStore, n: int) -> list[str]:
    for u in range(USERS):
        store.add_user(f"u{u}")
    return [store.create_session([f"u{u}" for u in range(USERS)]).session_id for _ in range(n)]


def bench(name: str, uri: str, home: Path, sessions: int, workers: int) -> None:
    settings = Settings.load(home=home, state_uri=uri)
    rates = {}
    for w in (1, workers):
        store = open_state(settings)
        ids = _prepare(store, sessions)
        elapsed, lost = _drain(settings, ids, w)
        done = store.list_sessions("done")
        assert sum(1 for s in done if s.session_id in set(ids)) == sessions, "lost a session"
        store.close()
        rates[w] = sessions / elapsed
        print(
            f"{name:8s} workers={w} sessions={sessions} time={elapsed:.2f}s "
            f"sessions/s={rates[w]:.0f} lost_claims={lost}"
        )
    print(f"{name:8s} ratio {workers}-worker/1-worker throughput = {rates[workers] / rates[1]:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=300)
    ap.add_argument("--workers", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench("sqlite", f"sqlite:///{tmp}/state.db", Path(tmp), args.sessions, args.workers)
        pg = os.environ.get("TRACKLINE_BENCH_POSTGRES_URL")
        if pg:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            try:
                bench("postgres", f"{pg}?schema={schema}", Path(tmp), args.sessions, args.workers)
            finally:
                import psycopg

                with psycopg.connect(pg, autocommit=True) as con:
                    con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        if os.environ.get("FIRESTORE_EMULATOR_HOST"):
            project = f"bench-{uuid.uuid4().hex[:8]}"
            bench("firestore", f"firestore://{project}", Path(tmp), args.sessions, args.workers)


if __name__ == "__main__":
    main()
