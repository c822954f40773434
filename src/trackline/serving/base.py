"""The serving store: one small key-value protocol per backend, one store on top of it.

A backend (`SortedKV`) only needs ordered keys within a table: put many, scan a key range in
order with a limit. The timeline and aggregate semantics live once in `ServingStore`, so every
backend answers alike and the contract suite runs the same tests against each.

Backends are picked by URI scheme: `sqlite:///path` (embedded, the default), `redis://host:port/db`,
`bigtable://project/instance` (needs `trackline[gcp]`).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from trackline.errors import UsageError
from trackline.redact import redact as redact_text
from trackline.serving import keys

EVENTS = "events"
DAILY = "daily"

#: scheme -> "module:factory"; adding a backend is adding a file and a line here.
BACKENDS = {
    "sqlite": "trackline.serving.sqlite:SQLiteKV",
    "redis": "trackline.serving.redis:RedisKV",
    "bigtable": "trackline.serving.bigtable:BigtableKV",
}


class SortedKV(Protocol):
    """Ordered key -> value tables (what Bigtable, a Redis sorted set or SQLite offer)."""

    def put_many(self, table: str, items: Sequence[tuple[str, str]]) -> None: ...

    def scan(self, table: str, start: str, stop: str, limit: int) -> list[tuple[str, str]]:
        """Items with start <= key < stop, in key order, at most `limit`."""
        ...

    def get(self, table: str, key: str) -> str | None: ...

    def close(self) -> None: ...


class ServingStore:
    """Per-user timelines (newest first) and daily aggregates, by row key."""

    def __init__(self, kv: SortedKV, uri: str = "") -> None:
        self.kv = kv
        self.uri = uri

    # Timelines ---------------------------------------------------------------------------
    def write_event(
        self, user_id: str, ts: datetime, event: Mapping[str, Any], event_id: str | None = None
    ) -> str:
        """Store one event; the same event written twice is stored once. Returns its key."""
        return self.write_events([(user_id, ts, event, event_id)])[0]

    def write_events(
        self, events: Iterable[tuple[str, datetime, Mapping[str, Any], str | None]]
    ) -> list[str]:
        items = []
        for user_id, ts, event, event_id in events:
            body = json.dumps(dict(event), sort_keys=True, default=str)
            eid = event_id or hashlib.sha256(body.encode()).hexdigest()[:16]
            doc = {"user_id": user_id, "ts": _iso(ts), "event_id": eid, "event": json.loads(body)}
            items.append((keys.event_key(user_id, ts, eid), json.dumps(doc, sort_keys=True)))
        self.kv.put_many(EVENTS, items)
        return [k for k, _ in items]

    def get_user_events(
        self, user_id: str, start: datetime, end: datetime, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The user's events with start <= ts < end, newest first, at most `limit`."""
        if limit < 1:
            raise UsageError("limit must be at least 1")
        if _aware(end) <= _aware(start):
            return []
        first, stop = keys.event_range(user_id, start, end)
        return [json.loads(v) for _, v in self.kv.scan(EVENTS, first, stop, limit)]

    # Daily aggregates --------------------------------------------------------------------
    def write_aggregate(
        self, dimension: str, value: str, day: date, metrics: Mapping[str, Any]
    ) -> str:
        return self.write_aggregates([(dimension, value, day, metrics)])[0]

    def write_aggregates(
        self, rows: Iterable[tuple[str, str, date, Mapping[str, Any]]]
    ) -> list[str]:
        items = []
        for dimension, value, day, metrics in rows:
            doc = {
                "dimension": dimension,
                "value": value,
                "date": day.isoformat(),
                "metrics": dict(metrics),
            }
            body = json.dumps(doc, sort_keys=True, default=str)
            items.append((keys.aggregate_key(dimension, value, day), body))
        self.kv.put_many(DAILY, items)
        return [k for k, _ in items]

    def get_daily_aggregates(self, dimension: str, value: str, day: date) -> dict[str, Any] | None:
        """The metrics stored for (dimension, value) on `day`, or None."""
        raw = self.kv.get(DAILY, keys.aggregate_key(dimension, value, day))
        if raw is None:
            return None
        metrics: dict[str, Any] = json.loads(raw)["metrics"]
        return metrics

    def close(self) -> None:
        self.kv.close()

    def __enter__(self) -> ServingStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def redact(uri: str) -> str:
    """The URI safe for logs and output (the one redaction, `trackline.redact`)."""
    return redact_text(uri)


def open_store(uri: str) -> ServingStore:
    """The serving store at `uri`; the scheme picks the backend."""
    scheme = urlsplit(uri).scheme
    target = BACKENDS.get(scheme)
    if target is None:
        raise UsageError(
            f"unknown serving store {redact(uri)!r}; use one of: "
            + ", ".join(f"{s}://..." for s in BACKENDS)
        )
    module, name = target.split(":")
    factory: Any = getattr(importlib.import_module(module), name)
    return ServingStore(factory.from_uri(uri), redact(uri))


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _iso(ts: datetime) -> str:
    return _aware(ts).astimezone(UTC).isoformat()
