"""`nats://HOST:PORT`: NATS JetStream, one file-backed stream per topic, durable pull consumers.

nats-py is asyncio only; the bus keeps a private event loop on its own daemon thread and every
public method submits a coroutine there and waits for its result, so callers stay synchronous
and no loop leaks into theirs. Redelivery is JetStream's own: `ack_wait` is the ack timeout,
nack is NAK (redeliver now), and `num_delivered` is the attempt count.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from trackline.bus.base import (
    BusError,
    BusOptions,
    Capabilities,
    Message,
    Outgoing,
    Publishing,
    Start,
    dead_letter,
    redact,
)
from trackline.config import Settings
from trackline.errors import ConfigError

try:
    import nats as _nats
    from nats.js import api as _api
except ImportError:  # pragma: no cover - depends on the environment
    _nats = None  # type: ignore[assignment]

log = logging.getLogger(__name__)
T = TypeVar("T")
ATTRS, KEY = "Tl-Attributes", "Tl-Ordering-Key"


def stream_name(topic: str) -> str:
    """JetStream names may not hold `.`, `*`, `>` or spaces; topics may (`cdc.carts`)."""
    return "TL_" + re.sub(r"[^A-Za-z0-9_-]", "_", topic)


class NatsBus(Publishing):
    scheme = "nats"
    thread_safe = True  # the stream processor may consume and ack from two threads
    capabilities = Capabilities(
        ordering=True,
        persistence=True,
        replay=True,
        consumer_groups=True,
        max_message_bytes=1024 * 1024,  # the server's default max_payload
    )

    def __init__(self, uri: str, options: BusOptions) -> None:
        if _nats is None:
            raise ConfigError("nats:// needs nats-py: pip install 'trackline[nats]'")
        self.uri = uri
        self.options = options
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="trackline-nats", daemon=True
        )
        self._thread.start()
        self._streams: set[str] = set()
        self._subs: dict[tuple[str, str], Any] = {}
        try:
            self._nc = self._run(
                _nats.connect(
                    servers=[uri],
                    connect_timeout=5,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    allow_reconnect=True,
                ),
                timeout=15,
            )
        except Exception as exc:
            self._stop_loop()
            raise BusError(
                f"cannot connect to NATS at {redact(uri)}: {exc or type(exc).__name__}; "
                "is nats-server running with JetStream (-js)?"
            ) from None
        self._js = self._nc.jetstream(timeout=10)

    @classmethod
    def from_uri(cls, uri: str, settings: Settings) -> NatsBus:
        return cls(uri, BusOptions.from_settings(settings))

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # Streams -----------------------------------------------------------------------------
    async def _stream(self, topic: str) -> str:
        name = stream_name(topic)
        if name not in self._streams:
            await self._js.add_stream(
                name=name,
                subjects=[topic],
                storage=_api.StorageType.FILE,
                retention=_api.RetentionPolicy.LIMITS,
            )
            self._streams.add(name)
        return name

    # Publishing --------------------------------------------------------------------------
    def publish_batch(self, topic: str, messages: Sequence[Outgoing]) -> list[str]:
        return self._call("publish", self._publish(topic, messages))

    async def _publish(self, topic: str, messages: Sequence[Outgoing]) -> list[str]:
        await self._stream(topic)
        futures = []
        for m in messages:  # sent in order; acks awaited together
            headers: dict[str, str] = {}
            if m.attributes:
                headers[ATTRS] = json.dumps(m.attributes)
            if m.ordering_key is not None:
                headers[KEY] = m.ordering_key
            futures.append(await self._js.publish_async(topic, m.data, headers=headers or None))
        acks = await asyncio.gather(*futures)
        return [str(a.seq) for a in acks]

    # Consuming ---------------------------------------------------------------------------
    async def _sub(self, topic: str, group: str, start: Start) -> Any:
        sub = self._subs.get((topic, group))
        if sub is None:
            stream = await self._stream(topic)
            config = _api.ConsumerConfig(
                ack_policy=_api.AckPolicy.EXPLICIT,
                ack_wait=self.options.ack_timeout,
                max_deliver=-1,  # dead letters are ours: the same rule on every bus
                max_ack_pending=-1,
                deliver_policy=_api.DeliverPolicy.ALL
                if start == "earliest"
                else _api.DeliverPolicy.NEW,
            )
            sub = await self._js.pull_subscribe(
                topic, durable=_durable(group), stream=stream, config=config
            )
            self._subs[(topic, group)] = sub
        return sub

    def consume(
        self,
        topic: str,
        group: str,
        max_messages: int = 1000,
        timeout: float = 1.0,
        *,
        start: Start = "earliest",
    ) -> list[Message]:
        got = self._call("consume", self._consume(topic, group, max_messages, timeout, start))
        return dead_letter(self, topic, group, got, self.options.max_attempts)

    async def _consume(
        self, topic: str, group: str, n: int, timeout: float, start: Start
    ) -> list[Message]:
        sub = await self._sub(topic, group, start)
        try:
            msgs = await sub.fetch(batch=n, timeout=max(timeout, 0.05))
        except TimeoutError:
            # nats-py raises its own TimeoutError when nothing came, but a bare
            # asyncio.TimeoutError when the deadline ran out before its lingering pull
            # (a slow reply to the no-wait probe): both mean "no messages yet".
            return []
        return [_message(topic, m) for m in msgs]

    def ack(self, topic: str, group: str, messages: Sequence[Message]) -> None:
        self._call("ack", self._settle(messages, nak=False))

    def nack(self, topic: str, group: str, messages: Sequence[Message]) -> None:
        self._call("nack", self._settle(messages, nak=True))

    async def _settle(self, messages: Sequence[Message], *, nak: bool) -> None:
        for m in messages:
            await (m.handle.nak() if nak else m.handle.ack())
        await self._nc.flush()

    def lag(self, topic: str, group: str) -> int | None:
        async def pending() -> int:
            info = await self._js.consumer_info(stream_name(topic), _durable(group))
            return int(info.num_pending or 0)

        try:
            return self._call("lag", pending())
        except BusError:
            return None

    def delete_group(self, topic: str, group: str) -> None:
        async def delete() -> None:
            sub = self._subs.pop((topic, group), None)
            if sub is not None:
                await sub.unsubscribe()
            await self._js.delete_consumer(stream_name(topic), _durable(group))

        self._call("delete group", delete())

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self._run(self._nc.close(), timeout=10)
        except Exception:  # closing is best effort: the server may already be gone
            log.debug("nats.close_failed uri=%s", redact(self.uri))
        self._stop_loop()

    def _stop_loop(self) -> None:
        """Stop and close the private loop, after cancelling what still runs on it."""

        async def cancel_rest() -> None:
            me = asyncio.current_task()
            rest = [t for t in asyncio.all_tasks() if t is not me]
            for t in rest:
                t.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        try:
            self._run(cancel_rest(), timeout=5)
        except Exception:
            log.debug("nats.cancel_failed")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()

    def _call(self, what: str, coro: Coroutine[Any, Any, T]) -> T:
        try:
            return self._run(coro, timeout=self.options.retry_seconds + 30)
        except (TimeoutError, _nats.errors.Error, _nats.js.errors.Error) as exc:
            raise BusError(
                f"NATS {what} on {redact(self.uri)} failed: {exc or type(exc).__name__}; "
                "check nats-server is running with JetStream"
            ) from None


def _durable(group: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", group)


def _message(topic: str, m: Any) -> Message:
    headers = m.headers or {}
    attrs = headers.get(ATTRS)
    meta = m.metadata
    return Message(
        id=str(meta.sequence.stream),
        data=bytes(m.data),
        attributes=json.loads(attrs) if attrs else {},
        ordering_key=headers.get(KEY),
        publish_time=meta.timestamp.timestamp(),
        delivery_attempt=int(meta.num_delivered),
        topic=topic,
        handle=m,
    )
