"""Bigtable-style row keys: the entity first, never a leading timestamp (that would send every
write to one tablet), and reversed timestamps so a prefix scan returns the newest rows first.

- event:     `<user_id>#<reversed ms, 13 digits>#<event_id>`
- aggregate: `<dimension>#<value>#<yyyymmdd>`  (e.g. `user#user_0042#20240501`)

`#` and `%` inside a value are percent-escaped so a value can never forge a key boundary.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

MAX_MS = 10**13 - 1  # milliseconds until the year 2286: 13 digits
SEP = "#"
AFTER_SEP = "$"  # the character right after '#': the exclusive end of a '#'-terminated prefix


def escape(value: str) -> str:
    return value.replace("%", "%25").replace("#", "%23")


def unescape(value: str) -> str:
    return value.replace("%23", "#").replace("%25", "%")


def to_ms(ts: datetime) -> int:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return int(ts.timestamp() * 1000)


def reversed_ms(ts: datetime) -> str:
    ms = to_ms(ts)
    if not 0 <= ms <= MAX_MS:
        raise ValueError(f"timestamp out of range for a row key: {ts.isoformat()}")
    return f"{MAX_MS - ms:013d}"


def event_key(user_id: str, ts: datetime, event_id: str) -> str:
    return SEP.join((escape(user_id), reversed_ms(ts), escape(event_id)))


def event_range(user_id: str, start: datetime, end: datetime) -> tuple[str, str]:
    """[first, stop) keys of the user's events with start <= time < end, newest first."""
    user = escape(user_id)
    newest = datetime.fromtimestamp((to_ms(end) - 1) / 1000, UTC)
    first = f"{user}{SEP}{reversed_ms(newest)}"
    stop = f"{user}{SEP}{reversed_ms(start)}{AFTER_SEP}"
    return first, stop


def day(d: date | datetime) -> str:
    return d.strftime("%Y%m%d")


def aggregate_key(dimension: str, value: str, d: date | datetime) -> str:
    return SEP.join((escape(dimension), escape(value), day(d)))
