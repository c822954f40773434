"""Raw and dead-letter NDJSON in the lake, one file per event type, minute and batch.

Layout (design.md 3.4): `raw/<event>/YYYY/MM/DD/HH/mm/<event>-<ts>-<shard>.ndjson` holds every
message's payload as received, one per line (a payload that itself holds a line break is
written as a JSON string, so a line is always one message). `raw/errors/<event>/...` holds the
rejected ones as envelopes: `message_id`, `publish_time`, `attributes`, `ordering_key`,
`delivery_attempt`, `reasons`, `detail` and `data` (the payload as a string). The minute is
the message's publish time, so a redelivered message lands in the same folder.

Files are written before the warehouse commit and the ack: a crash in between means the batch
is consumed again, so the lake is at least once (a message may appear twice); the warehouse is
exactly once.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence

from trackline.bus.base import Message
from trackline.lake import Lake

UNKNOWN = "unknown"  # messages with no or an unknown event_type
Rejected = tuple[Message, list[str], str | None]


def _line(data: bytes) -> bytes:
    if b"\n" in data or b"\r" in data:
        return json.dumps(data.decode("utf-8", "replace")).encode()
    return data


def envelope(m: Message, reasons: list[str], detail: str | None) -> bytes:
    return json.dumps(
        {
            "message_id": m.id,
            "publish_time": m.publish_time,
            "attributes": m.attributes,
            "ordering_key": m.ordering_key,
            "delivery_attempt": m.delivery_attempt,
            "reasons": reasons,
            "detail": detail,
            "data": m.data.decode("utf-8", "replace"),
        },
        ensure_ascii=False,
    ).encode()


class LakeWriter:
    """Writes one batch's raw and error files; `shard` tells processors apart."""

    def __init__(self, lake: Lake, shard: str) -> None:
        self.lake = lake
        self.shard = shard
        self._minutes: dict[int, str] = {}

    def raw(self, event: str, messages: Sequence[Message], stamp_ms: int) -> list[str]:
        if not messages:
            return []
        # The usual batch: one minute, no payload with a line break. Then the file is the
        # payloads joined, found and written without a Python step per message.
        blob = b"\n".join([m.data for m in messages])
        if blob.count(b"\n") == len(messages) - 1 and b"\r" not in blob:
            times = [m.publish_time for m in messages]
            first, last = min(times), max(times)
            if first // 60 == last // 60:
                return [self._put(("raw",), event, self._minute(first), blob, stamp_ms)]
        return self._write(("raw",), event, ((m, _line(m.data)) for m in messages), stamp_ms)

    def errors(self, event: str, rejected: Iterable[Rejected], stamp_ms: int) -> list[str]:
        lines = ((m, envelope(m, reasons, detail)) for m, reasons, detail in rejected)
        return self._write(("raw", "errors"), event, lines, stamp_ms)

    def _minute(self, ts: float) -> str:
        minute = int(ts // 60)
        text = self._minutes.get(minute)
        if text is None:
            text = time.strftime("%Y/%m/%d/%H/%M", time.gmtime(minute * 60))
            self._minutes[minute] = text
        return text

    def _write(
        self,
        prefix: tuple[str, ...],
        event: str,
        lines: Iterable[tuple[Message, bytes]],
        stamp_ms: int,
    ) -> list[str]:
        by_minute: dict[str, list[bytes]] = defaultdict(list)
        for m, line in lines:
            by_minute[self._minute(m.publish_time)].append(line)
        return [
            self._put(prefix, event, minute, b"\n".join(rows), stamp_ms)
            for minute, rows in by_minute.items()
        ]

    def _put(
        self, prefix: tuple[str, ...], event: str, minute: str, blob: bytes, stamp_ms: int
    ) -> str:
        """One file: `blob` (lines joined) and a final line break, in one write."""
        path = self.lake.path(*prefix, event, minute, f"{event}-{stamp_ms}-{self.shard}.ndjson")
        self.lake.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with self.lake.fs.open(path, "wb") as f:
            f.write(blob + b"\n")
        return path
