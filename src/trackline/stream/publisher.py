"""Publish realistic events from the generator onto a bus, mixed types, at a rate or flat out.

Records come from `sources.generator` (every contract's shape, invalid ones of every kind);
this module only interleaves the types, encodes, adds the `event_type` attribute and the
ordering key, and paces the batches.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from trackline.bus.base import Bus, Outgoing
from trackline.contracts.loader import ContractRegistry
from trackline.generate.generator import ENCODE, Labelled, labelled_records
from trackline.stream.events import ordering_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Published:
    """One published record, for callers (tests) that check what came out the other end."""

    event_type: str
    kind: str  # "valid", "duplicate", or the invalid kind
    event_id: str | None
    message_id: str


@dataclass
class PublishResult:
    published: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    records: list[Published] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The `--json` shape of `trackline publish` (add keys, never rename)."""
        kinds = dict(self.by_kind)
        return {
            "published": self.published,
            "by_type": dict(self.by_type),
            "valid": kinds.pop("valid", 0),
            "duplicates": kinds.pop("duplicate", 0),
            "invalid_by_kind": kinds,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.published / self.seconds, 1) if self.seconds else None,
        }


def mixed(
    types: Sequence[str],
    count: int,
    contracts: ContractRegistry,
    *,
    invalid_share: float,
    seed: int,
    now: datetime | None = None,
) -> Iterator[tuple[str, Labelled]]:
    """`count` records over `types` (even split), interleaved at random (seeded)."""
    k = len(types)
    left = [count // k + (1 if i < count % k else 0) for i in range(k)]
    streams = [
        labelled_records(contracts.get(t), left[i], invalid_share=invalid_share, seed=seed, now=now)
        for i, t in enumerate(types)
    ]
    rng = random.Random(f"publish:{seed}")
    total = count
    while total:
        pick = rng.randrange(total)  # weighted by what each type still has to give
        i = 0
        while pick >= left[i]:
            pick -= left[i]
            i += 1
        left[i] -= 1
        total -= 1
        yield types[i], next(streams[i])


def publish_events(
    bus: Bus,
    topic: str,
    count: int,
    types: Sequence[str],
    contracts: ContractRegistry,
    *,
    invalid_share: float = 0.0,
    seed: int = 0,
    rate: float | None = None,
    batch: int = 1000,
    now: datetime | None = None,
    keep: bool = False,
    on_batch: Callable[[int], None] | None = None,
) -> PublishResult:
    """Publish `count` events; with `rate`, paced to that many per second."""
    result = PublishResult()
    if rate is not None and rate > 0:
        batch = max(1, min(batch, int(rate / 20) or 1))  # ~20 sends a second keep pace smooth
    started = time.monotonic()
    pending: list[Outgoing] = []
    labels: list[tuple[str, Labelled]] = []

    def flush() -> None:
        if rate:
            due = started + result.published / rate  # the first event of this batch
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        ids = bus.publish_batch(topic, pending)
        for (t, item), mid in zip(labels, ids, strict=True):
            result.by_type[t] += 1
            result.by_kind[item.kind] += 1
            if keep:
                row = item.record if isinstance(item.record, dict) else None
                event_id = row.get("event_id") if row is not None else None
                result.records.append(Published(t, item.kind, event_id, mid))
        result.published += len(pending)
        if on_batch is not None:
            on_batch(result.published)
        pending.clear()
        labels.clear()

    encode = ENCODE
    for event_type, item in mixed(
        types, count, contracts, invalid_share=invalid_share, seed=seed, now=now
    ):
        rec = item.record
        if isinstance(rec, str):
            data, entity = rec, item.base
        else:
            data, entity = encode(rec), rec
        pending.append(
            Outgoing(data.encode(), {"event_type": event_type}, ordering_key(event_type, entity))
        )
        labels.append((event_type, item))
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    result.seconds = time.monotonic() - started
    log.info(
        "publish.done topic=%s published=%d seconds=%.2f", topic, result.published, result.seconds
    )
    return result
