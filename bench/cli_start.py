"""Benchmark: how fast the `trackline` command starts.

Times, as the median of N fresh processes each, `python -c pass` (the floor every Python
program pays), `trackline --version`, `trackline --help` and every subcommand's `--help`, and
prints each beside the floor with its target. Exits 1 when a target is missed or a command
fails, so CI can run it.

    .venv/bin/python bench/cli_start.py [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import typer

from trackline.cli.main import app

#: Seconds of wall time, the targets of issue #23 (deliverable 5).
TOP_TARGET = 0.3
SUBCOMMAND_TARGET = 0.5


@dataclass
class Timing:
    command: str
    seconds: float
    over_floor: float
    target: float | None
    ok: bool


def trackline_argv() -> list[str]:
    """The console script users type, beside this interpreter; else `python -m trackline`."""
    beside = Path(sys.executable).with_name("trackline")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("trackline")
    return [found] if found else [sys.executable, "-m", "trackline"]


def subcommands() -> list[list[str]]:
    """Every command path of the app, groups and their commands, in registration order."""
    paths: list[list[str]] = []

    def walk(cmd: Any, prefix: list[str]) -> None:
        for name, sub in getattr(cmd, "commands", {}).items():
            paths.append([*prefix, name])
            walk(sub, [*prefix, name])

    walk(typer.main.get_command(app), [])
    return paths


def median_seconds(argv: list[str], runs: int) -> float:
    """Median wall time of `runs` fresh processes, after one untimed warm-up."""
    env = {**os.environ, "COLUMNS": "100"}

    def once() -> float:
        start = time.perf_counter()
        done = subprocess.run(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False
        )
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()}")
        return elapsed

    once()
    return statistics.median(once() for _ in range(runs))


def measure(runs: int) -> list[Timing]:
    floor = median_seconds([sys.executable, "-c", "pass"], runs)
    cli = trackline_argv()
    cases: list[tuple[list[str], float]] = [
        (["--version"], TOP_TARGET),
        (["--help"], TOP_TARGET),
        *(([*path, "--help"], SUBCOMMAND_TARGET) for path in subcommands()),
    ]
    timings = [Timing("python -c pass", round(floor, 4), 0.0, None, True)]
    for extra, target in cases:
        seconds = median_seconds([*cli, *extra], runs)
        name = " ".join(["trackline", *extra])
        over = round(seconds - floor, 4)
        timings.append(Timing(name, round(seconds, 4), over, target, seconds < target))
    return timings


def print_table(timings: list[Timing], runs: int) -> None:
    width = max(len(t.command) for t in timings)
    print(f"{'command':<{width}}  median s  over floor  target  ok")
    for t in timings:
        target = f"{t.target:.1f}" if t.target is not None else "-"
        mark = "yes" if t.ok else "MISSED"
        print(f"{t.command:<{width}}  {t.seconds:8.3f}  {t.over_floor:+10.3f}  {target:>6}  {mark}")
    missed = sum(1 for t in timings if not t.ok)
    print(f"{len(timings)} commands, median of {runs} runs each; targets missed: {missed}")


def main() -> int:
    parser = argparse.ArgumentParser(description="How fast the trackline command starts.")
    parser.add_argument("--runs", type=int, default=5, help="Processes per command (median).")
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be >= 1")
    timings = measure(args.runs)
    ok = all(t.ok for t in timings)
    if args.json:
        doc = {"runs": args.runs, "ok": ok, "timings": [asdict(t) for t in timings]}
        print(json.dumps(doc, indent=2))
    else:
        print_table(timings, args.runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
