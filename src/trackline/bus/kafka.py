"""`kafka://HOST:PORT[,HOST:PORT...]`: Apache Kafka through confluent-kafka (extra
`trackline[kafka]`).

The ordering key is the record key (one partition per key, so order per key holds); the
attributes are headers; a consumer group is a Kafka group with auto-commit off. Kafka acks by
offset, not by message: ack commits, per partition, past the highest acked offset, and nack
seeks back to the lowest nacked one, so everything after it is delivered again (the stream
sink dedups). Kafka keeps no delivery count; it is counted here, per process.

Not exercised by the test suite (no broker here): only URI parsing, message mapping and the
missing-extra error are. See docs/streaming.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from trackline.bus.base import (
    BusError,
    BusOptions,
    Capabilities,
    Message,
    Outgoing,
    Publishing,
    Start,
    dead_letter,
)
from trackline.config import Settings
from trackline.errors import ConfigError
from trackline.extras import require_extra

HOST_RE = re.compile(r"^[A-Za-z0-9.-]+:[0-9]{1,5}$")


def _client() -> Any:
    return require_extra("confluent_kafka", "kafka", "kafka://")


def parse_uri(uri: str) -> str:
    """The bootstrap servers of `kafka://h1:9092,h2:9092`."""
    rest = uri.split("://", 1)[1] if "://" in uri else ""
    hosts = [h for h in rest.strip("/").split(",") if h]
    if not hosts or not all(HOST_RE.match(h) for h in hosts):
        raise ConfigError(f"kafka URI {uri!r} needs brokers: kafka://HOST:PORT[,HOST:PORT]")
    return ",".join(hosts)


def to_message(topic: str, record: Any, attempt: int) -> Message:
    """A confluent-kafka Message as a bus Message; the id is `partition:offset`."""
    key = record.key()
    _kind, ts_ms = record.timestamp()
    return Message(
        id=f"{record.partition()}:{record.offset()}",
        data=bytes(record.value() or b""),
        attributes={k: v.decode("utf-8", "replace") for k, v in (record.headers() or [])},
        ordering_key=key.decode("utf-8", "replace") if key is not None else None,
        publish_time=ts_ms / 1000 if ts_ms and ts_ms > 0 else 0.0,
        delivery_attempt=attempt,
        topic=topic,
        handle=(record.partition(), record.offset()),
    )


class KafkaBus(Publishing):
    scheme = "kafka"
    capabilities = Capabilities(
        ordering=True,
        persistence=True,
        replay=True,
        consumer_groups=True,
        max_message_bytes=1024 * 1024,  # the broker's default message.max.bytes
    )

    def __init__(self, uri: str, options: BusOptions) -> None:
        self.servers = parse_uri(uri)
        self.options = options
        self._lib = _client()
        self.producer = self._lib.Producer({"bootstrap.servers": self.servers, "acks": "all"})
        self._consumers: dict[tuple[str, str], Any] = {}
        self._attempts: dict[str, int] = {}

    @classmethod
    def from_uri(cls, uri: str, settings: Settings) -> KafkaBus:
        return cls(uri, BusOptions.from_settings(settings))

    def publish_batch(self, topic: str, messages: Sequence[Outgoing]) -> list[str]:
        ids: list[str] = [""] * len(messages)
        errors: list[str] = []

        def done(i: int) -> Any:
            def report(err: Any, msg: Any) -> None:
                if err is not None:
                    errors.append(str(err))
                else:
                    ids[i] = f"{msg.partition()}:{msg.offset()}"

            return report

        for i, m in enumerate(messages):
            self.producer.produce(
                topic,
                m.data,
                key=m.ordering_key,
                headers=list(m.attributes.items()),
                on_delivery=done(i),
            )
            self.producer.poll(0)
        left = self.producer.flush(self.options.retry_seconds + 30)
        if errors or left:
            raise BusError(f"Kafka publish to {topic} failed: {errors[:1] or [f'{left} unsent']}")
        return ids

    def _consumer(self, topic: str, group: str, start: Start) -> Any:
        c = self._consumers.get((topic, group))
        if c is None:
            c = self._lib.Consumer(
                {
                    "bootstrap.servers": self.servers,
                    "group.id": group,
                    "enable.auto.commit": False,
                    "auto.offset.reset": start,
                    "max.poll.interval.ms": max(int(self.options.ack_timeout * 1000), 60_000),
                }
            )
            c.subscribe([topic])
            self._consumers[(topic, group)] = c
        return c

    def consume(
        self,
        topic: str,
        group: str,
        max_messages: int = 1000,
        timeout: float = 1.0,
        *,
        start: Start = "earliest",
    ) -> list[Message]:
        records = self._consumer(topic, group, start).consume(max_messages, timeout)
        out = []
        for r in records:
            if r.error() is not None:
                raise BusError(f"Kafka consume from {topic} failed: {r.error()}")
            mid = f"{r.partition()}:{r.offset()}"
            self._attempts[mid] = self._attempts.get(mid, 0) + 1
            out.append(to_message(topic, r, self._attempts[mid]))
        return dead_letter(self, topic, group, out, self.options.max_attempts)

    def ack(self, topic: str, group: str, messages: Sequence[Message]) -> None:
        if not messages:
            return
        top: dict[int, int] = {}
        for m in messages:
            part, off = m.handle
            top[part] = max(top.get(part, -1), off)
            self._attempts.pop(m.id, None)
        parts = [self._lib.TopicPartition(topic, p, o + 1) for p, o in top.items()]
        self._consumer(topic, group, "earliest").commit(offsets=parts, asynchronous=False)

    def nack(self, topic: str, group: str, messages: Sequence[Message]) -> None:
        low: dict[int, int] = {}
        for m in messages:
            part, off = m.handle
            low[part] = min(low.get(part, off), off)
        c = self._consumer(topic, group, "earliest")
        for p, o in low.items():
            c.seek(self._lib.TopicPartition(topic, p, o))

    def lag(self, topic: str, group: str) -> int | None:
        return None

    def delete_group(self, topic: str, group: str) -> None:
        c = self._consumers.pop((topic, group), None)
        if c is not None:
            c.close()

    def close(self) -> None:
        for c in self._consumers.values():
            c.close()
        self._consumers.clear()
        self.producer.flush(5)
