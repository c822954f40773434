"""Benchmark: N listening events ingested into the BigQuery emulator vs the DuckDB warehouse.

Prints, per warehouse, the ingest's seconds and, for BigQuery, the API calls (HTTP requests)
the run made: a first run (new table), the same file again under --force (every key held by
BigQuery already: the held-key check's worst case), and a second file of new events. The
calls do not grow with the rows (the run's rows go up in one Parquet load job per table).

Needs the emulator (`bash scripts/services/bigquery.sh`, REST on 127.0.0.1:9050):

    .venv/bin/python bench/bigquery.py                    # 1M events
    .venv/bin/python bench/bigquery.py --events 10000     # a quick look

The emulator is DuckDB behind a REST API on the same machine: its seconds say what the
trackline side costs plus a local server's, not what BigQuery itself takes.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class Calls(logging.Handler):
    """Picks up the run's `bigquery.calls` log line."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.calls: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        found = re.search(r"bigquery\.calls .*calls=(\d+)", record.getMessage())
        if found:
            self.calls.append(int(found.group(1)))


def ingest(settings: Any, path: Path, *, force: bool = False) -> dict[str, Any]:
    from trackline.engines.local import LocalEngine

    engine = LocalEngine(settings)
    start = time.perf_counter()
    result = engine.ingest([str(path)], "listening_events", force=force)
    c = result.manifest.counts
    return {
        "seconds": round(time.perf_counter() - start, 2),
        "input": c.input,
        "valid": c.valid,
        "rejected": c.rejected,
        "duplicates": c.duplicates,
        "commit_seconds": result.manifest.timings.get("commit"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--endpoint", default="http://127.0.0.1:9050")
    ap.add_argument("--project", default="trackline-bench")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: temp)")
    args = ap.parse_args()

    from trackline.config import Settings
    from trackline.generate import generator

    work = args.work or Path(tempfile.mkdtemp(prefix="trackline-bench-bq-"))
    handler = Calls()
    logging.getLogger("trackline.warehouse").addHandler(handler)
    logging.getLogger("trackline.warehouse").setLevel(logging.INFO)
    try:
        now = datetime.now(UTC)
        first, second = work / "listening_events.ndjson", work / "more.ndjson"
        generator.write(
            "listening_events", args.events, first, invalid_share=0.05, seed=42, now=now
        )
        generator.write(
            "listening_events", args.events // 10, second, invalid_share=0.05, seed=43, now=now
        )
        out: dict[str, Any] = {"events": args.events, "machine": "shared, 2 cores"}
        duck = Settings.load(home=work / "duck")
        out["duckdb"] = ingest(duck, first)
        dataset = f"bench_{uuid.uuid4().hex[:10]}"
        bq = Settings.load(
            home=work / "bq",
            warehouse_uri=f"bigquery://{args.project}/{dataset}",
            bigquery_endpoint=args.endpoint,
            http_timeout_seconds=120,
        )
        for name, path, force in (
            ("bigquery_first", first, False),
            ("bigquery_again_forced", first, True),
            ("bigquery_new_tenth", second, False),
        ):
            run = ingest(bq, path, force=force)
            run["api_calls"] = handler.calls[-1] if handler.calls else None
            out[name] = run
        out["ratio_bigquery_to_duckdb"] = round(
            out["bigquery_first"]["seconds"] / out["duckdb"]["seconds"], 2
        )
        print(json.dumps(out, indent=2))
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
