"""Benchmark: N listening events (NDJSON, 5% invalid of every kind) through the full ingest path.

Prints, for each size: records/s and peak RSS of the ingest, the floor (DuckDB reading the same
file and writing it unchanged to one Parquet file) and the ratio ingest/floor. Each measured
step runs in its own child process so its peak RSS is its own.

    .venv/bin/python bench/batch.py                       # 1M events, 3 rounds
    .venv/bin/python bench/batch.py --events 1000000,5000000   # memory growth 1M -> 5M

The floor and the ingest run in turns (`--rounds`, default 3) after the disk has settled, and
the medians are compared: on a 2-core machine one run of either varies by a third.

Targets (issue #2): ingest <= 3x the floor; peak RSS < 1.5 GB at 1M, growing < 20% at 5M.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

HERE = Path(__file__).resolve().parent


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def cpu_seconds() -> float:
    """CPU time of this process, all threads: steadier than wall time on a busy machine."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def phase_generate(path: Path, events: int) -> dict[str, float]:
    from trackline.generate import generator

    start = time.perf_counter()
    generator.write(
        "listening_events", events, path, invalid_share=0.05, seed=42, now=datetime.now(UTC)
    )
    return {"seconds": time.perf_counter() - start}


def phase_floor(path: Path, work: Path) -> dict[str, float]:
    from trackline.core import duck

    con = duck.connect()
    start, cpu = time.perf_counter(), cpu_seconds()
    src = f"read_json('{path}', format='newline_delimited', ignore_errors=true)"
    con.execute(f"COPY (SELECT * FROM {src}) TO '{work / 'floor.parquet'}' (FORMAT parquet)")
    return {
        "seconds": time.perf_counter() - start,
        "cpu_seconds": cpu_seconds() - cpu,
        "peak_rss_mb": peak_rss_mb(),
    }


def phase_ingest(path: Path, work: Path) -> dict[str, float]:
    from trackline.config import Settings
    from trackline.engines.local import LocalEngine

    settings = Settings.load(home=work / "home")
    engine = LocalEngine(settings)
    start, cpu = time.perf_counter(), cpu_seconds()
    result = engine.ingest([str(path)], "listening_events")
    seconds = time.perf_counter() - start
    cpu = cpu_seconds() - cpu
    c = result.manifest.counts
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_rss_mb": peak_rss_mb(),
        "input": c.input,
        "valid": c.valid,
        "rejected": c.rejected,
        "duplicates": c.duplicates,
        "timings": result.manifest.timings,
    }  # type: ignore[dict-item]


def child(phase: str, path: Path, work: Path, events: int) -> dict[str, float]:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            phase,
            "--file",
            str(path),
            "--work",
            str(work),
            "--events",
            str(events),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", default="1000000", help="comma-separated sizes")
    ap.add_argument(
        "--rounds", type=int, default=3, help="floor/ingest pairs per size (medians printed)"
    )
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: temp)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--file", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        fn = {
            "generate": lambda: phase_generate(args.file, int(args.events)),
            "floor": lambda: phase_floor(args.file, args.work),
            "ingest": lambda: phase_ingest(args.file, args.work),
        }[args.child]
        print(json.dumps(fn()))
        return
    sizes = [int(s) for s in args.events.split(",")]
    work = args.work or Path(tempfile.mkdtemp(prefix="trackline-bench-"))
    results = []
    try:
        for n in sizes:
            d = work / f"n{n}"
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True)
            path = d / "listening_events.ndjson"
            gen = child("generate", path, d, n)
            size_mb = path.stat().st_size / 1e6
            floors, ingests = [], []
            for _ in range(max(1, args.rounds)):
                # Each phase starts with the disk quiet: without the sync, the writeback of
                # what the phase before wrote (the generated file, a whole ingest) runs on the
                # same two cores during the next measurement (the first floor after the
                # generator took 1.5 s, the next ones 0.7-0.9 s).
                # Neither measured step pays for removing what its previous round wrote:
                # overwriting the last floor.parquet cost the floor 0.05-0.1 s (the ingest's
                # home is removed the same way below).
                (d / "floor.parquet").unlink(missing_ok=True)
                os.sync()
                floors.append(child("floor", path, d, n))
                shutil.rmtree(d / "home", ignore_errors=True)
                os.sync()
                ingests.append(child("ingest", path, d, n))
            floor_s = median([f["seconds"] for f in floors])
            floor_cpu = median([f["cpu_seconds"] for f in floors])
            ingest_s = median([i["seconds"] for i in ingests])
            ingest_cpu = median([i["cpu_seconds"] for i in ingests])
            ingest_rss = max(i["peak_rss_mb"] for i in ingests)
            last = ingests[-1]
            results.append((n, ingest_rss))
            print(f"events={n:,} file={size_mb:.0f}MB generated_in={gen['seconds']:.1f}s")
            print(
                f"  rounds={len(floors)} (alternating floor, ingest; medians below, "
                "peak RSS the largest)"
            )
            print(
                "  each round (floor s / ingest s): "
                + ", ".join(
                    f"{f['seconds']:.2f}/{i['seconds']:.2f}"
                    for f, i in zip(floors, ingests, strict=True)
                )
            )
            print(
                f"  floor  (DuckDB read_json -> one Parquet): {floor_s:.2f}s "
                f"cpu={floor_cpu:.2f}s peak_rss={max(f['peak_rss_mb'] for f in floors):.0f}MB"
            )
            print(
                f"  ingest (full path): {ingest_s:.2f}s cpu={ingest_cpu:.2f}s "
                f"{n / ingest_s:,.0f} records/s peak_rss={ingest_rss:.0f}MB"
            )
            print(
                f"  counts: input={last['input']:,} valid={last['valid']:,} "
                f"rejected={last['rejected']:,} duplicates={last['duplicates']:,}"
            )
            print(f"  steps (last round): {last['timings']}")
            print(
                f"  cores busy on average: ingest {ingest_cpu / ingest_s:.2f}, "
                f"floor {floor_cpu / floor_s:.2f} (machine: {os.cpu_count()})"
            )
            paired = median(
                i["seconds"] / f["seconds"] for f, i in zip(floors, ingests, strict=True)
            )
            print(
                f"  ratio ingest/floor: {ingest_s / floor_s:.2f}x wall (target <= 3x), "
                f"{ingest_cpu / floor_cpu:.2f}x CPU; median of each round's own ratio "
                f"{paired:.2f}x"
            )
        if len(results) > 1:
            (n0, r0), (n1, r1) = results[0], results[-1]
            print(f"peak RSS growth {n0:,} -> {n1:,}: {100 * (r1 - r0) / r0:+.1f}% (target < 20%)")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("TRACKLINE_QUIET", "1")
    main()
