"""The bus protocol (design.md 3.7): publish, consume in batches under a group, ack, nack,
dead-letter after N attempts. Capabilities are data, so callers and tests branch on facts,
not on class names. Backends register by URI scheme; adding one is adding one module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from trackline.config import Settings
from trackline.core.retry import Backoff
from trackline.errors import ConfigError, TracklineError
from trackline.redact import redact as redact_text

log = logging.getLogger(__name__)

#: Topics trackline itself uses (each command also takes --topic).
TOPICS = ("events", "cdc.carts", "sessions", "feedback")
DLQ_SUFFIX = ".dlq"
Start = Literal["earliest", "latest"]


class BusError(TracklineError):
    """The bus cannot be reached or refused an operation (after retries)."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to publish. `ordering_key` groups messages whose order matters (an entity)."""

    data: bytes
    attributes: dict[str, str] = field(default_factory=dict)
    ordering_key: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """A delivered message. `handle` is the backend's own ack token (opaque to callers)."""

    id: str
    data: bytes
    attributes: dict[str, str]
    ordering_key: str | None
    publish_time: float  # seconds since the epoch, set by the bus when it stored the message
    delivery_attempt: int  # 1 on first delivery
    topic: str = ""
    handle: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Capabilities:
    """What a backend guarantees.

    ordering: one consumer sees the messages of one ordering key in publish order (redeliveries
        aside); persistence: acknowledged publishes survive a restart of the bus;
    replay: a new group can start from the earliest retained message;
    consumer_groups: consumers of one group share the work, each message to one of them;
    max_message_bytes: the largest payload the bus accepts;
    total_order: one consumer sees all messages of a topic in publish order, across keys
        (false where order holds per key only: Pub/Sub, Kafka's partitions);
    shared_attempts: `delivery_attempt` counts deliveries to every consumer of the group
        (false where each process counts its own: Kafka);
    shares_per_message: a group's members take messages one consume at a time, so any member
        gets the next one (false where a member owns whole partitions until a rebalance: Kafka);
    nack_rewinds: a nack also redelivers the later messages of its partition, acked or not
        (Kafka seeks back); false: only the nacked messages come again.
    """

    ordering: bool
    persistence: bool
    replay: bool
    consumer_groups: bool
    max_message_bytes: int
    total_order: bool = True
    shared_attempts: bool = True
    shares_per_message: bool = True
    nack_rewinds: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "ordering": self.ordering,
            "persistence": self.persistence,
            "replay": self.replay,
            "consumer_groups": self.consumer_groups,
            "max_message_bytes": self.max_message_bytes,
            "total_order": self.total_order,
            "shared_attempts": self.shared_attempts,
            "shares_per_message": self.shares_per_message,
            "nack_rewinds": self.nack_rewinds,
        }


class Bus(Protocol):
    """One small protocol every backend implements."""

    scheme: str
    capabilities: Capabilities

    def publish(
        self,
        topic: str,
        data: bytes,
        attributes: dict[str, str] | None = None,
        ordering_key: str | None = None,
    ) -> str: ...

    def publish_batch(self, topic: str, messages: Sequence[Outgoing]) -> list[str]: ...

    def consume(
        self,
        topic: str,
        group: str,
        max_messages: int = 1000,
        timeout: float = 1.0,
        *,
        start: Start = "earliest",
    ) -> list[Message]:
        """Up to `max_messages`, waiting at most `timeout` s for the first one. A new group
        starts at `start`; a message not acked within the ack timeout is delivered again;
        one delivered more than `max_attempts` times goes to `<topic>.dlq` instead."""
        ...

    def ack(self, topic: str, group: str, messages: Sequence[Message]) -> None: ...

    def nack(self, topic: str, group: str, messages: Sequence[Message]) -> None:
        """Give messages back for redelivery now (their attempt count goes up)."""
        ...

    def lag(self, topic: str, group: str) -> int | None:
        """Messages not yet delivered to the group, when the backend can tell cheaply."""
        ...

    def delete_group(self, topic: str, group: str) -> None: ...

    def ensure_group(self, topic: str, group: str) -> None:
        """Make the group exist now. A bus without replay (Pub/Sub) keeps for a group only what
        is published after the group exists; the others need nothing (`Publishing` no-op)."""
        ...

    def close(self) -> None: ...


class Publishing:
    """The one-message `publish` every backend gets by sending a batch of one, and the no-op
    `ensure_group` of every bus whose new groups start from the earliest message."""

    def ensure_group(self, topic: str, group: str) -> None:
        return None

    def publish_batch(self, topic: str, messages: Sequence[Outgoing]) -> list[str]:
        raise NotImplementedError

    def publish(
        self,
        topic: str,
        data: bytes,
        attributes: dict[str, str] | None = None,
        ordering_key: str | None = None,
    ) -> str:
        return self.publish_batch(topic, [Outgoing(data, attributes or {}, ordering_key)])[0]


@dataclass(frozen=True)
class BusOptions:
    """What every backend takes from Settings."""

    max_attempts: int = 5
    ack_timeout: float = 30.0
    retry_seconds: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> BusOptions:
        return cls(
            max_attempts=settings.bus_max_attempts,
            ack_timeout=settings.bus_ack_timeout_seconds,
            retry_seconds=settings.bus_retry_seconds,
        )


Factory = Callable[[str, Settings], Bus]


def _log(uri: str, settings: Settings) -> Bus:
    from trackline.bus.log import LogBus

    return LogBus.from_uri(uri, settings)


def _redis(uri: str, settings: Settings) -> Bus:
    from trackline.bus.redis import RedisBus

    return RedisBus.from_uri(uri, settings)


def _nats(uri: str, settings: Settings) -> Bus:
    from trackline.bus.nats import NatsBus

    return NatsBus.from_uri(uri, settings)


def _pubsub(uri: str, settings: Settings) -> Bus:
    from trackline.bus.pubsub import PubSubBus

    return PubSubBus.from_uri(uri, settings)


def _kafka(uri: str, settings: Settings) -> Bus:
    from trackline.bus.kafka import KafkaBus

    return KafkaBus.from_uri(uri, settings)


REGISTRY: dict[str, Factory] = {
    "log": _log,
    "redis": _redis,
    "rediss": _redis,
    "nats": _nats,
    "pubsub": _pubsub,
    "kafka": _kafka,
}


def open_bus(uri: str | None, settings: Settings) -> Bus:
    """The bus a URI names (default: `settings.bus`, the embedded log under the home)."""
    uri = uri or settings.bus
    scheme = urlsplit(uri).scheme.lower()
    factory = REGISTRY.get(scheme)
    if factory is None:
        known = ", ".join(f"{s}://" for s in sorted(REGISTRY))
        raise ConfigError(f"unknown bus {redact(uri)!r}; use one of: {known}")
    return factory(uri, settings)


def redact(uri: str) -> str:
    """A URI safe to log (the one redaction, `trackline.redact`)."""
    return redact_text(uri)


def dlq(topic: str) -> str:
    return topic + DLQ_SUFFIX


def dead_letter(
    bus: Bus, topic: str, group: str, messages: list[Message], max_attempts: int
) -> list[Message]:
    """Move messages past `max_attempts` to `<topic>.dlq` (then ack them); return the rest.

    Shared by every backend so the rule is the same everywhere: the dead letter keeps the data,
    the attributes, and says where it came from and how often it was tried.
    """
    over = [m for m in messages if m.delivery_attempt > max_attempts]
    if not over:
        return messages
    bus.publish_batch(
        dlq(topic),
        [
            Outgoing(
                m.data,
                {
                    **m.attributes,
                    "dlq_topic": topic,
                    "dlq_group": group,
                    "dlq_message_id": m.id,
                    "dlq_attempts": str(m.delivery_attempt - 1),
                },
                m.ordering_key,
            )
            for m in over
        ],
    )
    bus.ack(topic, group, over)
    log.warning(
        "bus.dead_letter topic=%s group=%s count=%d attempts=%d",
        topic,
        group,
        len(over),
        max_attempts,
    )
    return [m for m in messages if m.delivery_attempt <= max_attempts]


def retrying(
    what: str, fn: Callable[[], Any], seconds: float, errors: tuple[type[BaseException], ...]
) -> Any:
    """Run `fn`, retrying transient `errors` for up to `seconds` (servers restart), with the
    shared backoff; `what` names the call in the log and must already be redacted."""
    try:
        backoff = Backoff(first=0.05, most=1.0, deadline=seconds)
        return backoff.call(fn, errors, event="bus.retry", what=f"what={what}")
    except errors as exc:
        raise BusError(
            f"{what} failed for {seconds:.0f}s: {exc}; check the bus server is running "
            "(TRACKLINE_BUS_URI / --bus)"
        ) from None
