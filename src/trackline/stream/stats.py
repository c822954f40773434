"""A stream's counts: per batch and event type, and the running totals with latencies."""

from __future__ import annotations

import time
from array import array
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from trackline.contracts.kernel import KernelResult
from trackline.errors import AccountingError


@dataclass
class Totals:
    events: int = 0
    valid: int = 0
    rejected: int = 0
    duplicates: int = 0

    def add(self, other: Totals) -> None:
        self.events += other.events
        self.valid += other.valid
        self.rejected += other.rejected
        self.duplicates += other.duplicates

    def as_dict(self) -> dict[str, int]:
        return {
            "events": self.events,
            "valid": self.valid,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
        }


@dataclass
class StreamStats:
    totals: Totals = field(default_factory=Totals)
    by_type: dict[str, Totals] = field(default_factory=lambda: defaultdict(Totals))
    reasons: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    redelivered: int = 0
    started: float = field(default_factory=time.monotonic)
    busy_seconds: float = 0.0
    latencies: array[float] = field(default_factory=lambda: array("d"))
    lag: int | None = None

    def latency_ms(self, values: array[float] | None = None) -> dict[str, float | None]:
        data = self.latencies if values is None else values
        if not len(data):
            return {"p50": None, "p99": None, "max": None}
        arr = pa.array(data, pa.float64())
        q = pc.quantile(arr, q=[0.5, 0.99]).to_pylist()
        return {
            "p50": round(q[0] * 1000, 1),
            "p99": round(q[1] * 1000, 1),
            "max": round(pc.max(arr).as_py() * 1000, 1),
        }


def tally(
    groups: dict[str, list[int]], results: dict[str, KernelResult], inserted: dict[str, int]
) -> dict[str, Totals]:
    """Each event type's counts in a batch, checked: events = valid + rejected + duplicates
    (a duplicate repeats a key inside the batch or one already in the warehouse)."""
    tallies = {}
    for event, idx in groups.items():
        tally = Totals(events=len(idx))
        res = results.get(event)
        if res is None:  # an unknown event type: every message rejected
            tally.rejected = len(idx)
        else:
            tally.rejected = res.rejected.num_rows
            tally.valid = inserted.get(event, 0)
            tally.duplicates = res.duplicates + res.valid.num_rows - tally.valid
        if tally.events != tally.valid + tally.rejected + tally.duplicates:
            raise AccountingError(f"stream batch for {event} does not add up: {tally}")
        tallies[event] = tally
    return tallies
