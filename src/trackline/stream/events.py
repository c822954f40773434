"""Event types that travel on the `events` topic, and the entity each one is ordered by."""

from __future__ import annotations

from typing import Any

from trackline.errors import UsageError

#: event_type attribute -> contract (one table each); the order is the CLI's listing order.
EVENT_TYPES = ("orders", "inventory", "user_activity", "listening_events", "feedback")
DEFAULT_TYPES = ("orders", "inventory", "user_activity")

#: The fields naming the entity whose events must stay in order (the ordering key).
ORDERING: dict[str, tuple[str, ...]] = {
    "orders": ("order_id",),
    "inventory": ("warehouse_id", "product_id"),
    "user_activity": ("session_id",),
    "listening_events": ("user_id",),
    "feedback": ("session_id",),
}


def ordering_key(event_type: str, row: dict[str, Any] | None) -> str | None:
    """`orders:ord_abc`, `inventory:WH-01/7`...; None when the record has no entity."""
    if row is None:
        return None
    parts = [row.get(f) for f in ORDERING.get(event_type, ())]
    if not parts or any(p is None for p in parts):
        return None
    return f"{event_type}:" + "/".join(str(p).strip() for p in parts)


def parse_types(text: str) -> tuple[str, ...]:
    types = tuple(t.strip() for t in text.split(",") if t.strip())
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown or not types:
        raise UsageError(
            f"unknown event type(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(EVENT_TYPES)}"
        )
    return types
