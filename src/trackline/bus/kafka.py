"""`kafka://HOST:PORT[,HOST:PORT...][?session_timeout_ms=N]`: Apache Kafka through
confluent-kafka (extra `trackline[kafka]`).

The ordering key is the record key (one partition per key, so order per key holds); the
attributes are headers; a consumer group is the Kafka group `<topic>.<group>` (groups are per
topic on every bus), auto-commit off. Kafka acks by offset, not by message: ack commits, per
partition, up to the first message this consumer delivered and has not acked (past the highest
acked one when none is left), so a crash never skips an unacked message; nack seeks back to the
lowest nacked one, so everything after it is delivered again (the stream sink dedups). Kafka
keeps no delivery count; it is counted here, per process (a message a dead consumer took comes
to the next one as attempt 1).

A dead consumer's partitions move to the group's other members after the session timeout
(`session_timeout_ms`, default 10000; real brokers refuse less than their
`group.min.session.timeout.ms`, 6000 by default). A consumer that stops polling for longer than
the ack timeout (at least 60 s) leaves the group.

Tested against tansu (a Kafka-compatible broker, scripts/services/kafka.sh) by the bus contract
suite; see docs/streaming.md for what differs from a Kafka cluster.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs

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

# librdkafka's own lines (a refused connection is one per retry) go to this logger, quiet by
# default: trackline reports a failure itself, once, as a BusError. Lower its level to see them.
log = logging.getLogger(f"{__name__}.librdkafka")
log.setLevel(logging.CRITICAL)
HOST_RE = re.compile(r"^[A-Za-z0-9.-]+:[0-9]{1,5}$")
SESSION_TIMEOUT_MS = 10_000


def _client() -> Any:
    return require_extra("confluent_kafka", "kafka", "kafka://")


def parse_uri(uri: str) -> str:
    """The bootstrap servers of `kafka://h1:9092,h2:9092`."""
    rest = uri.split("://", 1)[1] if "://" in uri else ""
    rest = rest.partition("?")[0]
    hosts = [h for h in rest.strip("/").split(",") if h]
    if not hosts or not all(HOST_RE.match(h) for h in hosts):
        raise ConfigError(f"kafka URI {uri!r} needs brokers: kafka://HOST:PORT[,HOST:PORT]")
    return ",".join(hosts)


def session_timeout_ms(uri: str) -> int:
    """The group session timeout the URI asks for (`?session_timeout_ms=N`), else the default."""
    query = uri.partition("?")[2]
    options = parse_qs(query, keep_blank_values=True) if query else {}
    unknown = sorted(set(options) - {"session_timeout_ms"})
    if unknown:
        raise ConfigError(
            f"kafka URI option {unknown[0]!r} is unknown; the one option is session_timeout_ms"
        )
    value = options.get("session_timeout_ms", [str(SESSION_TIMEOUT_MS)])[-1]
    if not value.isdigit() or not 1000 <= int(value) <= 3_600_000:
        raise ConfigError(f"kafka session_timeout_ms={value!r} must be 1000-3600000")
    return int(value)


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
        total_order=False,  # per partition (a key's partition) only
        shared_attempts=False,  # counted by each consuming process
        shares_per_message=False,  # a member owns whole partitions
        nack_rewinds=True,  # a nack seeks back: later messages of the partition come again
    )

    def __init__(self, uri: str, options: BusOptions) -> None:
        self.servers = parse_uri(uri)
        self.uri = uri
        self.session_ms = session_timeout_ms(uri)
        self.options = options
        self._lib = _client()
        self.producer = self._lib.Producer(
            {
                "bootstrap.servers": self.servers,
                "acks": "all",
                # a message not delivered within the retry window is an error, not a 5 min wait
                "message.timeout.ms": int(self.options.retry_seconds * 1000) + 5000,
                "logger": log,
            }
        )
        self._consumers: dict[tuple[str, str], Any] = {}
        self._attempts: dict[tuple[str, str, str], int] = {}
        # delivered and not yet acked, per (topic, group, partition): a commit never passes one
        self._unacked: dict[tuple[str, str, int], set[int]] = {}
        self._topics: set[str] = set()

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
        left = self.producer.flush(self.options.retry_seconds + 10)
        if errors or left:
            raise BusError(
                f"Kafka publish to {topic} failed: {errors[:1] or [f'{left} unsent']}; "
                "check the broker (TRACKLINE_BUS_URI / --bus)"
            )
        return ids

    def ensure_group(self, topic: str, group: str) -> None:
        """A new Kafka group starts from the earliest retained record: only the topic is made."""
        self._ensure_topic(topic)

    def _ensure_topic(self, topic: str) -> None:
        """Create the topic (the broker's default partitions) unless it exists, so a consumer
        can subscribe before anything is published (a missing topic is an error to it)."""
        if topic in self._topics:
            return
        from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

        conf: dict[str, Any] = {"bootstrap.servers": self.servers, "logger": log}
        admin = AdminClient(conf)
        timeout = max(1.0, self.options.retry_seconds)
        future = admin.create_topics(
            [NewTopic(topic)], operation_timeout=timeout, request_timeout=timeout
        )[topic]
        try:
            future.result(timeout + 5)
        except Exception as exc:
            code = exc.args[0].code() if exc.args and hasattr(exc.args[0], "code") else None
            if code != self._lib.KafkaError.TOPIC_ALREADY_EXISTS:
                raise BusError(
                    f"Kafka could not create topic {topic}: {exc}; check the broker "
                    "(TRACKLINE_BUS_URI / --bus)"
                ) from None
        self._topics.add(topic)

    def _pin_latest(self, c: Any, topic: str) -> None:
        """A new group asked to start at "latest" starts at the end as of now (committed at
        once), not wherever the end is when its partitions are assigned a moment later."""
        meta = c.list_topics(topic, timeout=10).topics[topic]
        parts = [self._lib.TopicPartition(topic, p) for p in meta.partitions]
        committed = c.committed(parts, timeout=10)
        if any(tp.offset >= 0 for tp in committed):
            return  # the group exists: it goes on from where it was
        ends = [
            self._lib.TopicPartition(topic, tp.partition, c.get_watermark_offsets(tp, 10)[1])
            for tp in parts
        ]
        c.commit(offsets=ends, asynchronous=False)

    def _consumer(self, topic: str, group: str, start: Start) -> Any:
        c = self._consumers.get((topic, group))
        if c is None:
            self._ensure_topic(topic)
            c = self._lib.Consumer(
                {
                    "bootstrap.servers": self.servers,
                    "logger": log,
                    "group.id": f"{topic}.{group}",  # a group per topic, as on every bus
                    "enable.auto.commit": False,
                    "auto.offset.reset": start,
                    "max.poll.interval.ms": max(int(self.options.ack_timeout * 1000), 60_000),
                    "session.timeout.ms": self.session_ms,
                    "heartbeat.interval.ms": max(100, self.session_ms // 10),
                }
            )
            if start == "latest":
                self._pin_latest(c, topic)
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
            self._unacked.setdefault((topic, group, r.partition()), set()).add(r.offset())
            key = (topic, group, f"{r.partition()}:{r.offset()}")
            self._attempts[key] = self._attempts.get(key, 0) + 1
            out.append(to_message(topic, r, self._attempts[key]))
        return dead_letter(self, topic, group, out, self.options.max_attempts)

    def ack(self, topic: str, group: str, messages: Sequence[Message]) -> None:
        if not messages:
            return
        top: dict[int, int] = {}
        for m in messages:
            part, off = m.handle
            top[part] = max(top.get(part, -1), off)
            self._unacked.get((topic, group, part), set()).discard(off)
            self._attempts.pop((topic, group, m.id), None)
        parts = []
        for p, o in top.items():
            # up to the first message still unacked (a nacked one, say), else past the highest
            left = self._unacked.get((topic, group, p))
            parts.append(self._lib.TopicPartition(topic, p, min(left) if left else o + 1))
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
