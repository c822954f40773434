"""Changes as CloudEvents 1.0 (structured JSON) with a Debezium-style payload (design.md 3.6).

```
{"specversion": "1.0", "id": "<32 hex>", "source": "/trackline/cdc/fakestore/carts",
 "type": "trackline.cdc.carts.updated", "time": "...Z", "subject": "carts/5",
 "datacontenttype": "application/json", "partitionkey": "cart_5",
 "sequence": "00000000000000000042",
 "data": {"op": "u", "before": {...}, "after": {...}, "ts_ms": ...,
          "source": {"connector": "fakestore", "name": "fakestore", "collection": "carts",
                     "ts_ms": ..., "snapshot": "false"}}}
```

The `id` is a hash of (source, cart id, op, content before, content after), nothing else, so the
same change observed again (after a crash, or replayed from the dead-letter file) carries the
same id and a consumer that deduplicates on it sees it once. The poll time and the sequence are
not part of it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from trackline.cdc.snapshot import Change
from trackline.core.names import check_name

SPECVERSION = "1.0"
SEQUENCE_WIDTH = 20  # zero-padded so string order is numeric order (up to 10^20 - 1)
CONTENT_TYPE = "application/cloudevents+json"
OP_NAMES = {"r": "read", "c": "created", "u": "updated", "d": "deleted"}


@dataclass(frozen=True)
class Source:
    """Who observes what: `name` is the logical source (one snapshot per name and entity)."""

    name: str = "fakestore"
    entity: str = "carts"
    connector: str = "fakestore"

    def __post_init__(self) -> None:
        # The name and entity become the dead-letter file's name under the home.
        check_name(self.name, "CDC source name (--name)")
        check_name(self.entity, "CDC entity")

    @property
    def uri(self) -> str:
        return f"/trackline/cdc/{self.name}/{self.entity}"

    @property
    def key(self) -> str:
        return f"{self.name}.{self.entity}"

    @property
    def singular(self) -> str:
        return self.entity.removesuffix("s")


def event_id(source: str, key: str, op: str, before: str | None, after: str | None) -> str:
    blob = json.dumps([source, key, op, before, after], separators=(",", ":")).encode()
    return hashlib.blake2b(blob, digest_size=16).hexdigest()


def format_sequence(n: int) -> str:
    return str(n).zfill(SEQUENCE_WIDTH)


def iso_z(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build(source: Source, change: Change, sequence: int, now: datetime) -> dict[str, Any]:
    before_hash, before = change.before if change.before else (None, None)
    after_hash, after = change.after if change.after else (None, None)
    ts_ms = int(now.timestamp() * 1000)
    return {
        "specversion": SPECVERSION,
        "id": event_id(source.uri, change.key, change.op, before_hash, after_hash),
        "source": source.uri,
        "type": f"trackline.cdc.{source.entity}.{OP_NAMES[change.op]}",
        "time": iso_z(now),
        "subject": f"{source.entity}/{change.key}",
        "datacontenttype": "application/json",
        "partitionkey": f"{source.singular}_{change.key}",
        "sequence": format_sequence(sequence),
        "data": {
            "op": change.op,
            "before": before,
            "after": after,
            "ts_ms": ts_ms,
            "source": {
                "connector": source.connector,
                "name": source.name,
                "collection": source.entity,
                "ts_ms": ts_ms,
                "snapshot": "true" if change.op == "r" else "false",
            },
        },
    }


def encode(event: dict[str, Any]) -> bytes:
    """The structured-mode body: compact JSON, UTF-8."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def attributes(event: dict[str, Any]) -> dict[str, str]:
    """Bus attributes, so consumers can route without parsing the body."""
    return {
        "event_type": str(event["type"]),
        "content_type": CONTENT_TYPE,
        "ce_id": str(event["id"]),
        "ce_source": str(event["source"]),
        "ce_sequence": str(event["sequence"]),
        "op": str(event["data"]["op"]),
    }
