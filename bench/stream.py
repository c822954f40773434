"""Benchmark: mixed events (5 types, 5% invalid) through bus -> `trackline stream` -> warehouse.

For each bus it measures, with the stream processor in its own process:
- throughput: publish N events flat out while the processor runs; events/s from the first
  publish to the processor's exit after its last commit (`--max-events N`): publish to
  queryable in the warehouse, end to end;
- latency: publish at a fixed rate (default 20,000/s) for `--latency-events` into a fresh
  home (empty warehouse); p50 and p99 of commit time minus publish time, as the processor
  reports them;
- peak RSS of the processor;
- the load average before and after (the machine's other work moves the figures).
Payloads are generated before the clock starts (the generator is not the bus).

    .venv/bin/python bench/stream.py                              # 1M events, log redis nats
    .venv/bin/python bench/stream.py --events 100000 --bus log
    .venv/bin/python bench/stream.py --events 20000 --bus log,pubsub --rate 2000  # the emulator

`pubsub` is the Pub/Sub emulator (PUBSUB_EMULATOR_HOST, default 127.0.0.1:8085, started by
scripts/services.sh); `kafka` the broker on 127.0.0.1:9092. A `pubsub://PROJECT` URI works too.

Targets (issue #4) on log://: >= 50,000 events/s sustained, p99 < 2 s at 20,000 events/s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

SERVERS = {
    "redis": ("127.0.0.1", 6379),
    "nats": ("127.0.0.1", 4222),
    "pubsub": ("127.0.0.1", 8085),
    "kafka": ("127.0.0.1", 9092),
}
URIS = {
    "redis": "redis://127.0.0.1:6379/0",
    "nats": "nats://127.0.0.1:4222",
    "pubsub": "pubsub://trackline-bench",  # each run has its own topic
    "kafka": "kafka://127.0.0.1:9092",
}
TYPES = ("orders", "inventory", "user_activity", "listening_events", "feedback")


def reachable(name: str) -> bool:
    try:
        with socket.create_connection(SERVERS[name], timeout=1):
            return True
    except OSError:
        return False


def payloads(n: int) -> list[Any]:
    from trackline.bus.base import Outgoing
    from trackline.contracts.loader import ContractRegistry
    from trackline.generate.generator import ENCODE
    from trackline.stream.events import ordering_key
    from trackline.stream.publisher import mixed

    out = []
    for t, item in mixed(TYPES, n, ContractRegistry(), invalid_share=0.05, seed=7):
        rec = item.record
        data = rec if isinstance(rec, str) else ENCODE(rec)
        entity = item.base if isinstance(rec, str) else rec
        out.append(Outgoing(data.encode(), {"event_type": t}, ordering_key(t, entity)))
    return out


def start_processor(home: Path, uri: str, topic: str, n: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLINE_")}
    env["TRACKLINE_HOME"] = str(home)
    return subprocess.Popen(
        [sys.executable, "-m", "trackline", "-q", "stream", "--bus", uri, "--topic", topic,
         "--max-events", str(n), "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def publish(uri: str, home: Path, topic: str, msgs: list[Any], rate: float | None) -> float:
    from trackline.bus.base import open_bus
    from trackline.config import Settings

    bus = open_bus(uri, Settings.load(home=home))
    step = 5000 if rate is None else max(1, int(rate / 50))
    start = time.monotonic()
    for i in range(0, len(msgs), step):
        if rate is not None:
            wait = start + i / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        bus.publish_batch(topic, msgs[i : i + step])
    took = time.monotonic() - start
    bus.close()
    return took


def run(uri: str, home: Path, msgs: list[Any], rate: float | None) -> dict[str, Any]:
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    proc = start_processor(home, uri, topic, len(msgs))
    time.sleep(2.0)  # let it start and subscribe (a group on a new topic starts at the beginning)
    start = time.monotonic()
    pub = publish(uri, home, topic, msgs, rate)
    out, err = proc.communicate(timeout=3600)
    total = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"stream failed: {err.decode()[-2000:]}")
    s = json.loads(out)
    return {
        "events": s["events"],
        "seconds": round(total, 2),
        "events_per_second": round(s["events"] / total),
        "publish_events_per_second": round(len(msgs) / pub),
        "latency_ms": s["latency_ms"],
        "valid": s["valid"],
        "rejected": s["rejected"],
        "duplicates": s["duplicates"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--bus", default="log,redis,nats", help="log, redis, nats or a URI list")
    ap.add_argument("--rate", type=float, default=20_000.0)
    ap.add_argument("--latency-events", type=int, default=200_000)
    args = ap.parse_args()
    if "pubsub" in args.bus:  # the emulator, as every Google client finds it
        os.environ.setdefault("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085")
    print(f"generating {args.events} events...", file=sys.stderr)
    msgs = payloads(args.events)
    results = {}
    for name in args.bus.split(","):
        if name in SERVERS and not reachable(name):
            print(f"{name}: server not reachable, skipped", file=sys.stderr)
            continue
        load_before = os.getloadavg()
        with tempfile.TemporaryDirectory(prefix="trackline-bench-") as tmp:
            home = Path(tmp) / "home"
            uri = URIS.get(name, name) if name != "log" else f"log://{home / 'bus.db'}"
            print(f"{name}: throughput ({len(msgs)} events)...", file=sys.stderr)
            flat = run(uri, home, msgs, None)
            lat_n = min(args.latency_events, len(msgs))
            print(f"{name}: latency at {args.rate:.0f}/s ({lat_n} events)...", file=sys.stderr)
            # a fresh home: an empty warehouse, so these events are inserted, not duplicates
            home = Path(tmp) / "home-latency"
            uri = URIS.get(name, name) if name != "log" else f"log://{home / 'bus.db'}"
            paced = run(uri, home, msgs[:lat_n], args.rate)
            rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        results[name] = {
            "throughput": flat,
            f"at_{int(args.rate)}_per_s": paced,
            "peak_rss_mb_processor": round(rss),  # max over the processors run so far
            # 1, 5, 15 min load averages before and after: the figures depend on what else runs
            "load_average": {
                "before": [round(x, 2) for x in load_before],
                "after": [round(x, 2) for x in os.getloadavg()],
            },
        }
        f, p = flat, paced
        print(
            f"{name:6} {f['events_per_second']:>8} events/s end to end "
            f"(publish {f['publish_events_per_second']}/s) | at {args.rate:.0f}/s: "
            f"p50 {p['latency_ms']['p50']} ms, p99 {p['latency_ms']['p99']} ms | "
            f"peak RSS {rss:.0f} MB | load {load_before[0]:.2f} -> {os.getloadavg()[0]:.2f} "
            f"on {os.cpu_count()} cores"
        )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
