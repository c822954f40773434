"""Benchmark: the CDC diff of 100,000 carts with 1% changed (target: under 2 s).

The previous snapshot is what the state store holds (hash + canonical cart per id); a poll has
to canonicalise and hash the new listing, then diff. Changes: 1% of the carts (40% modified
dates or quantities, 30% deleted, 30% created), plus another 1% whose product lines are only
reordered (must not count). Prints the diff time (best of 3), the events it finds, the time of a
naive baseline (comparing the nested carts, re-sorting both sides' product lines every poll)
and the ratio; then the snapshot save and load through the SQLite state store and the building
of the CloudEvents, i.e. a whole poll without HTTP.

    .venv/bin/python bench/cdc.py [--carts 100000] [--changed 0.01]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trackline.cdc import events
from trackline.cdc.events import Source
from trackline.cdc.snapshot import diff, observe
from trackline.cdc.store import SnapshotStore
from trackline.config import Settings
from trackline.state import open_state


def make_carts(n: int, rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for i in range(1, n + 1):
        lines = {rng.randint(1, 20): rng.randint(1, 6) for _ in range(rng.randint(1, 4))}
        out.append(
            {"id": i, "userId": rng.randint(1, 10),
             "date": f"2020-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T00:00:00.000Z",
             "products": [{"productId": p, "quantity": q} for p, q in lines.items()], "__v": 0}
        )  # fmt: skip
    return out


def mutate(carts: list[dict[str, Any]], share: float, rng: random.Random) -> list[dict[str, Any]]:
    n = len(carts)
    k = max(1, int(n * share))
    picked = rng.sample(range(n), 2 * k)
    changed, reordered = picked[:k], picked[k:]
    modify, delete = changed[: k * 4 // 10], set(changed[k * 4 // 10 : k * 7 // 10])
    create = k - len(modify) - len(delete)
    new = [dict(c) for c in carts]
    for i in modify:
        if i % 2:
            new[i]["date"] = "2024-06-01T00:00:00.000Z"
        else:
            lines = [dict(x) for x in new[i]["products"]]
            lines[0]["quantity"] += 1
            new[i]["products"] = lines
    for i in reordered:
        new[i]["products"] = list(reversed(new[i]["products"]))
    new = [c for i, c in enumerate(new) if i not in delete]
    top = max(c["id"] for c in carts)
    new += make_carts(create, rng)
    for j, c in enumerate(new[-create:], start=1):
        c["id"] = top + j
    return new


def naive(previous: list[dict[str, Any]], current: list[dict[str, Any]]) -> Counter[str]:
    """What one writes first: index both listings, normalise both sides, compare nested dicts."""

    def norm(c: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in c.items() if k != "__v"}
        out["products"] = sorted(out["products"], key=lambda x: json.dumps(x, sort_keys=True))
        return out

    before = {c["id"]: norm(c) for c in previous}
    ops: Counter[str] = Counter()
    seen = set()
    for c in current:
        seen.add(c["id"])
        old = before.get(c["id"])
        if old is None:
            ops["c"] += 1
        elif old != norm(c):
            ops["u"] += 1
    ops["d"] = len(before.keys() - seen)
    return ops


def best_of(n: int, fn: Any) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(n):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--carts", type=int, default=100_000)
    ap.add_argument("--changed", type=float, default=0.01)
    args = ap.parse_args()
    rng = random.Random(42)
    old = make_carts(args.carts, rng)
    new = mutate(old, args.changed, rng)
    previous = observe(old).carts

    t_diff, changes = best_of(3, lambda: diff(previous, observe(new).carts))
    ops = Counter(c.op for c in changes)
    t_naive, naive_ops = best_of(3, lambda: naive(old, new))
    assert dict(ops) == {k: v for k, v in naive_ops.items() if v}, (ops, naive_ops)
    print(f"carts: {args.carts:,} before, {len(new):,} after, {args.changed:.1%} changed")
    print(
        f"diff (canonicalise + hash + set algebra): {t_diff:.3f} s, {len(changes)} events "
        f"(c {ops['c']}, u {ops['u']}, d {ops['d']}), target < 2 s: "
        f"{'met' if t_diff < 2 else 'NOT met'}"
    )
    print(f"naive nested comparison: {t_naive:.3f} s; ratio naive/diff = {t_naive / t_diff:.2f}x")

    with tempfile.TemporaryDirectory() as tmp:
        state = open_state(Settings.load(home=Path(tmp)))
        store = SnapshotStore(state, "bench.carts")
        now = datetime.now(UTC)
        t = time.perf_counter()
        store.save(previous, None, polled_at=now, sequence=0)
        t_first = time.perf_counter() - t
        t = time.perf_counter()
        loaded = store.load()
        t_load = time.perf_counter() - t
        assert loaded == previous
        t = time.perf_counter()
        current = observe(new).carts
        found = diff(loaded, current)
        first = store.reserve(len(found))
        built = [
            events.encode(events.build(Source(), c, first + i, now)) for i, c in enumerate(found)
        ]
        store.save(current, [c.key for c in found], polled_at=now, sequence=first + len(found))
        t_poll = time.perf_counter() - t
        state.close()
    print(
        f"state store (SQLite): first snapshot save {t_first:.2f} s, load {t_load:.2f} s; "
        f"a poll without HTTP (load excluded: diff + {len(built)} CloudEvents + save of the "
        f"changed shards) {t_poll:.2f} s"
    )


if __name__ == "__main__":
    main()
