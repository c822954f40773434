"""Benchmark: the reference job (`../shared/bench/`) through trackline's Beam engine and through
the seed-style Beam pipeline, on the DirectRunner with two workers (trackline: threads, its
default; seed-style: processes), in the same run.

    .venv/bin/python bench/beam.py                  # 1M events
    .venv/bin/python bench/beam.py --events 20000   # a quick check that it works

The input is `gen_events.py N` (about 5% invalid of seven kinds). Its rules are written below
as a trackline contract (`CONTRACT`): the fields and types, duration_ms >= 1, like_count >= 0,
like_count <= view_count, played_at not after the fixed AS_OF (a rule, not the wall clock),
primary key event_id, the derived ratios, curated files partitioned by day and event type.
Each engine runs as its own process tree (the DirectRunner's workers are child processes):
wall seconds, records/s and the peak of the tree's summed RSS, sampled every 0.1 s. Both Beam
pipelines must agree on valid and invalid counts before any figure is printed; trackline's
local engine runs on the same file for reference.

Target (issue #26): trackline on Beam >= 10x the seed-style pipeline's records/s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "bench"  # the reference job, beside the repository
TARGET = 10.0

CONTRACT = """\
name: bench_events
version: 1
description: The reference job's events (shared/bench/SPEC.md) as a trackline contract.
primary_key: [event_id]
event_time: played_at
partition_by: [day(played_at), event_type]
fields:
  event_id:      {type: string, required: true}
  event_type:    {type: string, required: true}
  user_id:       {type: string, required: true}
  track_id:      {type: string, required: true}
  artist:        {type: string}
  genre:         {type: string, normalize: lower_trim}
  country:       {type: string, normalize: upper_trim}
  duration_ms:   {type: int64, required: true, min: 1}
  played_at:     {type: timestamp, required: true}
  view_count:    {type: int64, required: true}
  like_count:    {type: int64, required: true, min: 0}
  comment_count: {type: int64, required: true}
rules:
  like_count_within_views: like_count <= view_count
  played_by_as_of: played_at <= TIMESTAMPTZ '2025-06-02 00:00:00+00'
derived:
  track_time_seconds: duration_ms / 1000.0
  like_to_view_ratio: like_count / nullif(view_count, 0)
  comment_to_view_ratio: comment_count / nullif(view_count, 0)
slices: [genre, country]
metrics: [like_to_view_ratio, comment_to_view_ratio]
"""


def tree_rss_mb(root: int) -> float:
    """RSS of a process and all its descendants (Linux /proc), in MB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            ppid, pages = int(fields[1]), int(fields[21])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = pages * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total / 1e6


def measure(argv: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Run a command to its end: wall seconds, peak RSS of its process tree, its output."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_mb(proc.pid))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        sys.exit(f"{argv[:4]} failed ({proc.returncode}):\n{err[-3000:]}")
    return {"seconds": seconds, "peak_rss_mb": peak, "out": out, "err": err}


def trackline(
    engine: str, data: Path, work: Path, env: dict[str, str], workers: int
) -> dict[str, Any]:
    home = work / f"home-{engine}"
    shutil.rmtree(home, ignore_errors=True)  # a kept --work would make the run "already done"
    argv = [sys.executable, "-m", "trackline", "--home", str(home), "ingest", str(data)]
    argv += ["-d", "bench_events", "--json"]
    if engine == "beam":
        argv += ["--engine", "beam", "--num-workers", str(workers)]
    got = measure(argv, env, work)
    summary = json.loads(got["out"])
    counts = summary["counts"]
    got["timings"] = summary["timings"]
    got["valid"] = counts["valid"]
    got["invalid"] = counts["rejected"] + counts["duplicates"]
    return got


def seed_style(data: Path, work: Path, env: dict[str, str], workers: int) -> dict[str, Any]:
    out = work / "seed-out"
    argv = [sys.executable, str(SHARED / "run_beam.py"), str(data), str(out)]
    argv += [f"--direct_num_workers={workers}", "--direct_running_mode=multi_processing"]
    got = measure(argv, {**env, "PYTHONPATH": str(SHARED)}, work)
    summary = json.loads((out / "summary.json").read_text())
    got["valid"], got["invalid"] = _seed_counts(summary)
    return got


def _seed_counts(summary: dict[str, Any]) -> tuple[int, int]:
    counts = summary.get("counts", summary)
    valid = int(counts["valid"])
    invalid = counts.get("invalid")
    if isinstance(invalid, dict):
        invalid = sum(invalid.values())
    return valid, int(invalid)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", type=Path, default=None, help="Keep files here (default: temp).")
    args = ap.parse_args()
    if not (SHARED / "run_beam.py").exists():
        sys.exit(f"the reference job is not beside the repository ({SHARED}): nothing to compare")
    with tempfile.TemporaryDirectory(prefix="trackline-bench-beam-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        contracts = work / "contracts"
        contracts.mkdir(exist_ok=True)
        (contracts / "bench_events.yaml").write_text(CONTRACT)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLINE_")}
        env["TRACKLINE_CONTRACTS_DIR"] = str(contracts)
        data = work / f"events-{args.events}.ndjson"
        if not data.exists():
            subprocess.run(
                [sys.executable, str(SHARED / "gen_events.py"), str(args.events), str(data)],
                check=True,
                cwd=SHARED,
            )
        seed = seed_style(data, work, env, args.workers)
        beam = trackline("beam", data, work, env, args.workers)
        local = trackline("local", data, work, env, args.workers)
        for name, got in (("trackline beam", beam), ("trackline local", local)):
            if (got["valid"], got["invalid"]) != (seed["valid"], seed["invalid"]):
                sys.exit(
                    f"{name} and the seed-style pipeline disagree: valid/invalid "
                    f"{got['valid']}/{got['invalid']} vs {seed['valid']}/{seed['invalid']}"
                )
        n = args.events
        print(f"{n:,} events, valid {seed['valid']:,}, invalid {seed['invalid']:,} (all agree)")
        print(
            f"DirectRunner, {args.workers} workers (trackline: threads, its default; seed-style: "
            "processes; machine shared: figures are noisy)"
        )
        for name, got in (
            ("seed-style Beam (run_beam.py)", seed),
            ("trackline --engine beam", beam),
            ("trackline --engine local", local),
        ):
            print(
                f"  {name:<31} {got['seconds']:7.1f} s  {n / got['seconds']:>10,.0f} records/s  "
                f"peak RSS {got['peak_rss_mb']:,.0f} MB"
            )
        for name, got in (("beam", beam), ("local", local)):
            steps = ", ".join(f"{k} {v:.1f}" for k, v in got["timings"].items())
            print(f"  trackline {name} steps (s): {steps}")
        ratio = seed["seconds"] / beam["seconds"]
        verdict = "meets" if ratio >= TARGET else "misses"
        print(f"trackline beam / seed-style: {ratio:.1f}x ({verdict} the {TARGET:.0f}x target)")
        # what any Beam run pays before its first record, against what the target allows
        imported = measure([sys.executable, "-c", "import apache_beam"], env, work)["seconds"]
        print(
            f"the {TARGET:.0f}x target allows {seed['seconds'] / TARGET:.1f} s; importing Beam "
            f"alone takes {imported:.1f} s, the local engine's whole run {local['seconds']:.1f} s"
        )


if __name__ == "__main__":
    main()
