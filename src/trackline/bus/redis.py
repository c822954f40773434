"""`redis://HOST:PORT/DB`: Redis Streams, one stream per topic, consumer groups.

New messages come from XREADGROUP; messages a consumer took and never acked (it died, or
nacked them) come back through XAUTOCLAIM once idle for the ack timeout, with their delivery
count from the pending list. Nack re-claims a message with a large idle time so the next
consume takes it at once. Every call retries connection errors for `bus_retry_seconds`, so a
restarted server is waited for, not reported as lost data (publishes may then repeat: the
stream sink dedups on `event_id`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from trackline.bus.base import (
    BusOptions,
    Capabilities,
    Message,
    Outgoing,
    Publishing,
    Start,
    dead_letter,
    redact,
    retrying,
)
from trackline.config import Settings
from trackline.errors import ConfigError, UsageError

try:
    import redis as _redis
except ImportError:  # pragma: no cover - depends on the environment
    _redis = None  # type: ignore[assignment]

T = TypeVar("T")
CHUNK = 5000


class RedisBus(Publishing):
    scheme = "redis"
    thread_safe = True  # the stream processor may consume and ack from two threads
    capabilities = Capabilities(
        ordering=True,
        persistence=True,  # with AOF/RDB enabled on the server
        replay=True,
        consumer_groups=True,
        max_message_bytes=512 * 1024 * 1024,
    )

    def __init__(self, uri: str, options: BusOptions) -> None:
        if _redis is None:
            raise ConfigError("redis:// needs the redis client: pip install 'trackline[redis]'")
        self.uri = uri
        self.options = options
        self.client: Any = _redis.Redis.from_url(uri, socket_timeout=30, socket_connect_timeout=5)
        pool: Any = self.client.connection_pool
        try:  # redis-py passes the URI's query on as arguments: check them now, not mid-run
            pool.release(pool.make_connection())
        except (TypeError, ValueError) as exc:
            raise UsageError(
                f"the bus URI {redact(uri)} has a query option redis does not take ({exc}); "
                "see redis-py's from_url for the options it knows"
            ) from None
        self.consumer = f"c-{uuid.uuid4().hex[:12]}"
        self._groups: set[tuple[str, str]] = set()
        # XAUTOCLAIM scans the pending list: run it when a lease can have expired since the
        # last full scan (every half ack timeout), right after a nack, or to go on with a scan
        # that stopped at a cursor; not on every consume.
        self._claim_due: dict[tuple[str, str], float] = {}
        self._claim_cursor: dict[tuple[str, str], str] = {}

    @classmethod
    def from_uri(cls, uri: str, settings: Settings) -> RedisBus:
        return cls(uri, BusOptions.from_settings(settings))

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        assert _redis is not None
        errors = (_redis.ConnectionError, _redis.TimeoutError, _redis.BusyLoadingError)
        result: T = retrying(
            f"redis {what} on {redact(self.uri)}", fn, self.options.retry_seconds, errors
        )
        return result

    # Publishing --------------------------------------------------------------------------
    def publish_batch(self, topic: str, messages: Sequence[Outgoing]) -> list[str]:
        ids: list[str] = []
        for i in range(0, len(messages), CHUNK):
            chunk = messages[i : i + CHUNK]

            def send(chunk: Sequence[Outgoing] = chunk) -> list[Any]:
                now = repr(time.time())
                pipe = self.client.pipeline(transaction=False)
                for m in chunk:
                    fields: dict[str, Any] = {"d": m.data, "t": now}
                    if m.attributes:
                        fields["a"] = _encode(m.attributes)
                    if m.ordering_key is not None:
                        fields["k"] = m.ordering_key
                    pipe.xadd(topic, fields)
                return list(pipe.execute())

            ids.extend(_text(x) for x in self._call("publish", send))
        return ids

    # Consuming ---------------------------------------------------------------------------
    def _ensure_group(self, topic: str, group: str, start: Start) -> None:
        if (topic, group) in self._groups:
            return
        assert _redis is not None
        try:
            self._call(
                "create group",
                lambda: self.client.xgroup_create(
                    topic, group, id="0" if start == "earliest" else "$", mkstream=True
                ),
            )
        except _redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups.add((topic, group))

    def consume(
        self,
        topic: str,
        group: str,
        max_messages: int = 1000,
        timeout: float = 1.0,
        *,
        start: Start = "earliest",
    ) -> list[Message]:
        self._ensure_group(topic, group, start)
        out = self._reclaim(topic, group, max_messages)
        if len(out) < max_messages:
            block = None if out else max(int(timeout * 1000), 1)
            res = self._call(
                "read",
                lambda: self.client.xreadgroup(
                    group, self.consumer, {topic: ">"}, count=max_messages - len(out), block=block
                ),
            )
            for _stream, entries in res or []:
                out.extend(_message(topic, eid, fields, 1) for eid, fields in entries if fields)
        return dead_letter(self, topic, group, out, self.options.max_attempts)

    def _reclaim(self, topic: str, group: str, n: int) -> list[Message]:
        key = (topic, group)
        now = time.monotonic()
        if now < self._claim_due.get(key, 0.0):
            return []
        idle = int(self.options.ack_timeout * 1000)
        cursor = self._claim_cursor.get(key, "0-0")
        res = self._call(
            "autoclaim",
            lambda: self.client.xautoclaim(topic, group, self.consumer, idle, cursor, count=n),
        )
        nxt = _text(res[0])
        self._claim_cursor[key] = nxt
        # a scan that went round: the next one when a lease can have expired
        if nxt == "0-0":
            self._claim_due[key] = now + self.options.ack_timeout / 2
        entries = [(eid, f) for eid, f in res[1] if f]  # deleted entries come back empty
        if not entries:
            return []
        counts: dict[str, int] = {}
        for eid, _ in entries:

            def pending(eid: Any = eid) -> Any:
                return self.client.xpending_range(topic, group, min=eid, max=eid, count=1)

            info = self._call("pending", pending)
            counts[_text(eid)] = int(info[0]["times_delivered"]) if info else 1
        return [_message(topic, eid, f, counts.get(_text(eid), 1)) for eid, f in entries]

    def ack(self, topic: str, group: str, messages: Sequence[Message]) -> None:
        for i in range(0, len(messages), CHUNK):
            ids = [m.id for m in messages[i : i + CHUNK]]

            def ack(ids: list[str] = ids) -> Any:
                return self.client.xack(topic, group, *ids)

            self._call("ack", ack)

    def nack(self, topic: str, group: str, messages: Sequence[Message]) -> None:
        if not messages:
            return
        idle = int(self.options.ack_timeout * 1000) + 1
        ids = [m.id for m in messages]
        self._claim_due.pop((topic, group), None)  # claim them back on the next consume
        self._claim_cursor.pop((topic, group), None)
        self._call(
            "nack",
            lambda: self.client.xclaim(topic, group, self.consumer, 0, ids, idle=idle, justid=True),
        )

    def lag(self, topic: str, group: str) -> int | None:
        groups = self._call("info", lambda: self.client.xinfo_groups(topic))
        for g in groups:
            if _text(g["name"]) == group:
                lag = g.get("lag")
                return None if lag is None else int(lag)
        return None

    def delete_group(self, topic: str, group: str) -> None:
        self._call("delete group", lambda: self.client.xgroup_destroy(topic, group))
        self._groups.discard((topic, group))

    def close(self) -> None:
        self.client.close()


_ENCODED: dict[tuple[tuple[str, str], ...], str] = {}
_DECODED: dict[bytes, dict[str, str]] = {}


def _encode(attributes: dict[str, str]) -> str:
    """Attributes as sent; the few distinct sets (one per event type) are encoded once."""
    key = tuple(attributes.items())
    text = _ENCODED.get(key)
    if text is None:
        text = json.dumps(attributes)
        if len(_ENCODED) < 10_000:
            _ENCODED[key] = text
    return text


def _decode(text: bytes) -> dict[str, str]:
    """Attributes as received, parsed once per distinct text; each message gets its own dict."""
    parsed = _DECODED.get(text)
    if parsed is None:
        parsed = json.loads(text)
        if len(_DECODED) < 10_000:
            _DECODED[text] = parsed
    return dict(parsed)


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _message(topic: str, eid: Any, fields: dict[Any, Any], attempt: int) -> Message:
    attrs = fields.get(b"a")
    key = fields.get(b"k")
    return Message(
        id=_text(eid),
        data=bytes(fields.get(b"d", b"")),
        attributes=_decode(attrs) if attrs else {},
        ordering_key=None if key is None else _text(key),
        publish_time=float(fields.get(b"t", 0.0)),
        delivery_attempt=attempt,
        topic=topic,
        handle=_text(eid),
    )
