"""`pubsub://PROJECT[/PREFIX]`: Google Cloud Pub/Sub (extra `trackline[gcp]`).

A topic `events` is the Pub/Sub topic `events` (or `PREFIX.events`); a consumer group is the
subscription `<topic>.<group>`, created on first use with message ordering on. Ack and nack
are Pub/Sub's own (nack = ack deadline 0); the attempt count is Pub/Sub's `delivery_attempt`
where the subscription has a dead-letter policy, else counted here. Honours
`PUBSUB_EMULATOR_HOST` like every Google client.

Not exercised by the test suite (no server here): only URI parsing, message mapping and the
missing-extra error are. See docs/streaming.md.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
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

PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")


def _client() -> Any:
    """google.cloud.pubsub_v1, or an error naming the extra."""
    return require_extra("google.cloud.pubsub_v1", "gcp", "pubsub://")


@dataclass(frozen=True)
class PubSubTarget:
    project: str
    prefix: str | None

    def topic_id(self, topic: str) -> str:
        return f"{self.prefix}.{topic}" if self.prefix else topic

    def topic_path(self, topic: str) -> str:
        return f"projects/{self.project}/topics/{self.topic_id(topic)}"

    def subscription_path(self, topic: str, group: str) -> str:
        return f"projects/{self.project}/subscriptions/{self.topic_id(topic)}.{group}"


def parse_uri(uri: str) -> PubSubTarget:
    rest = uri.split("://", 1)[1] if "://" in uri else ""
    project, _, prefix = rest.partition("/")
    if not PROJECT_RE.match(project):
        raise ConfigError(
            f"pubsub URI {uri!r} needs a project id: pubsub://PROJECT or pubsub://PROJECT/PREFIX "
            "(6-30 lowercase letters, digits, hyphens)"
        )
    prefix = prefix.strip("/") or ""
    if prefix and not re.match(r"^[A-Za-z][A-Za-z0-9._~+%-]*$", prefix):
        raise ConfigError(f"pubsub topic prefix {prefix!r} is not a valid topic id start")
    return PubSubTarget(project, prefix or None)


def to_message(topic: str, received: Any, seen: int) -> Message:
    """A Pub/Sub ReceivedMessage as a bus Message (`seen`: our own count when Pub/Sub has none)."""
    m = received.message
    published = m.publish_time
    return Message(
        id=str(m.message_id),
        data=bytes(m.data),
        attributes=dict(m.attributes),
        ordering_key=m.ordering_key or None,
        publish_time=published.timestamp() if hasattr(published, "timestamp") else 0.0,
        delivery_attempt=int(received.delivery_attempt or seen),
        topic=topic,
        handle=received.ack_id,
    )


class PubSubBus(Publishing):
    scheme = "pubsub"
    capabilities = Capabilities(
        ordering=True,
        persistence=True,
        replay=False,  # a new subscription sees only later messages (seek is not used)
        consumer_groups=True,
        max_message_bytes=10 * 1024 * 1024,
    )

    def __init__(self, uri: str, options: BusOptions) -> None:
        self.target = parse_uri(uri)
        self.options = options
        lib = _client()
        self._lib = lib
        self.publisher = lib.PublisherClient(
            publisher_options=lib.types.PublisherOptions(enable_message_ordering=True)
        )
        self.subscriber = lib.SubscriberClient()
        self._ready: set[str] = set()
        self._seen: dict[str, int] = {}

    @classmethod
    def from_uri(cls, uri: str, settings: Settings) -> PubSubBus:
        return cls(uri, BusOptions.from_settings(settings))

    def _ensure_topic(self, topic: str) -> str:
        path = self.target.topic_path(topic)
        if path not in self._ready:
            from google.api_core import exceptions

            with contextlib.suppress(exceptions.AlreadyExists):
                self.publisher.create_topic(request={"name": path})
            self._ready.add(path)
        return path

    def publish_batch(self, topic: str, messages: Sequence[Outgoing]) -> list[str]:
        path = self._ensure_topic(topic)
        futures = [
            self.publisher.publish(path, m.data, ordering_key=m.ordering_key or "", **m.attributes)
            for m in messages
        ]
        try:
            return [str(f.result(timeout=self.options.retry_seconds + 30)) for f in futures]
        except Exception as exc:
            raise BusError(f"Pub/Sub publish to {path} failed: {exc}") from None

    def _subscription(self, topic: str, group: str) -> str:
        path = self.target.subscription_path(topic, group)
        if path not in self._ready:
            from google.api_core import exceptions

            with contextlib.suppress(exceptions.AlreadyExists):
                self.subscriber.create_subscription(
                    request={
                        "name": path,
                        "topic": self._ensure_topic(topic),
                        "ack_deadline_seconds": max(10, int(self.options.ack_timeout)),
                        "enable_message_ordering": True,
                    }
                )
            self._ready.add(path)
        return path

    def consume(
        self,
        topic: str,
        group: str,
        max_messages: int = 1000,
        timeout: float = 1.0,
        *,
        start: Start = "earliest",
    ) -> list[Message]:
        sub = self._subscription(topic, group)
        from google.api_core import exceptions

        try:
            resp = self.subscriber.pull(
                request={"subscription": sub, "max_messages": max_messages},
                timeout=max(timeout, 0.1),
            )
        except exceptions.DeadlineExceeded:
            return []
        out = []
        for r in resp.received_messages:
            seen = self._seen.get(r.message.message_id, 0) + 1
            self._seen[r.message.message_id] = seen
            out.append(to_message(topic, r, seen))
        return dead_letter(self, topic, group, out, self.options.max_attempts)

    def ack(self, topic: str, group: str, messages: Sequence[Message]) -> None:
        if messages:
            sub = self._subscription(topic, group)
            self.subscriber.acknowledge(
                request={"subscription": sub, "ack_ids": [m.handle for m in messages]}
            )
            for m in messages:
                self._seen.pop(m.id, None)

    def nack(self, topic: str, group: str, messages: Sequence[Message]) -> None:
        if messages:
            sub = self._subscription(topic, group)
            self.subscriber.modify_ack_deadline(
                request={
                    "subscription": sub,
                    "ack_ids": [m.handle for m in messages],
                    "ack_deadline_seconds": 0,
                }
            )

    def lag(self, topic: str, group: str) -> int | None:
        return None  # only Cloud Monitoring knows (num_undelivered_messages)

    def delete_group(self, topic: str, group: str) -> None:
        self.subscriber.delete_subscription(
            request={"subscription": self.target.subscription_path(topic, group)}
        )
        self._ready.discard(self.target.subscription_path(topic, group))

    def close(self) -> None:
        self.subscriber.close()
