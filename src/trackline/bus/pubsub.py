"""`pubsub://PROJECT[/PREFIX][?groups=G1,G2]`: Google Cloud Pub/Sub (extra `trackline[gcp]`).

A topic `events` is the Pub/Sub topic `events` (or `PREFIX.events`); a consumer group is the
subscription `<topic>.<group>`, created on first use with message ordering on. Pub/Sub keeps a
message only for the subscriptions that exist when it is published, so creating a topic also
creates the subscriptions of its *born groups* (`trackline-stream`, or `workers` for the
`sessions` topic; `?groups=` names others): `trackline publish` then `trackline stream` loses
nothing.

Ack and nack are Pub/Sub's own (nack = ack deadline 0). An ack timeout under Pub/Sub's 10 s
minimum is applied by setting each pulled message's deadline (ModifyAckDeadline takes 0-600 s).
The attempt count is Pub/Sub's `delivery_attempt`: every subscription of a topic gets a
dead-letter policy to `<topic>.dlq` with the most attempts Pub/Sub allows (100), which makes
Pub/Sub count deliveries across consumers; the move to `<topic>.dlq` after `bus_max_attempts`
is the same code as on every bus (`base.dead_letter`), so dead letters look alike everywhere.
Subscriptions of a `.dlq` topic have no policy; their count is kept per process.

`PUBSUB_EMULATOR_HOST=HOST:PORT` points the official client at the emulator (anonymous
credentials, plain gRPC, no metadata-server probe); otherwise Application Default Credentials.
Tested against the Cloud SDK's emulator (tests/bus/test_contract.py, tests/bus/test_pubsub.py).
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar
from urllib.parse import parse_qs

from trackline.bus.base import (
    DLQ_SUFFIX,
    BusError,
    BusOptions,
    Capabilities,
    Message,
    Outgoing,
    Publishing,
    Start,
    dead_letter,
    dlq,
    retrying,
)
from trackline.config import Settings
from trackline.errors import ConfigError
from trackline.extras import require_extra

PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
GROUP_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~+%-]{0,100}$")
#: The groups whose subscription is created with a topic (what consumes it by default).
BORN_GROUPS = ("trackline-stream",)
BORN_GROUPS_BY_TOPIC = {"sessions": ("workers",)}
#: Pub/Sub's largest max_delivery_attempts: the policy counts, trackline's rule moves.
PUBSUB_MAX_ATTEMPTS = 100
MIN_ACK_DEADLINE = 10
CALL_TIMEOUT = 10.0  # seconds for an admin call (create, delete) or an ack
MAX_REQUEST_MESSAGES = 1000  # Pub/Sub's limits per publish request: 1,000 messages, 10 MB
MAX_REQUEST_BYTES = 9 * 1024 * 1024
PUBLISH_THREADS = 8
PUBLISH_TIMEOUT = 30.0
T = TypeVar("T")


def _client() -> Any:
    """google.cloud.pubsub_v1, or an error naming the extra."""
    return require_extra("google.cloud.pubsub_v1", "gcp", "pubsub://")


@dataclass(frozen=True)
class PubSubTarget:
    project: str
    prefix: str | None
    groups: tuple[str, ...] | None = None  # born groups named in the URI (None: the defaults)

    def topic_id(self, topic: str) -> str:
        return f"{self.prefix}.{topic}" if self.prefix else topic

    def topic_path(self, topic: str) -> str:
        return f"projects/{self.project}/topics/{self.topic_id(topic)}"

    def subscription_path(self, topic: str, group: str) -> str:
        return f"projects/{self.project}/subscriptions/{self.topic_id(topic)}.{group}"

    def born_groups(self, topic: str) -> tuple[str, ...]:
        if self.groups is not None:
            return self.groups
        base = topic.removesuffix(DLQ_SUFFIX) if topic.endswith(DLQ_SUFFIX) else topic
        return BORN_GROUPS_BY_TOPIC.get(base, BORN_GROUPS)


def parse_uri(uri: str) -> PubSubTarget:
    rest = uri.split("://", 1)[1] if "://" in uri else ""
    rest, _, query = rest.partition("?")
    project, _, prefix = rest.partition("/")
    if not PROJECT_RE.match(project):
        raise ConfigError(
            f"pubsub URI {uri!r} needs a project id: pubsub://PROJECT or pubsub://PROJECT/PREFIX "
            "(6-30 lowercase letters, digits, hyphens)"
        )
    prefix = prefix.strip("/") or ""
    if prefix and not re.match(r"^[A-Za-z][A-Za-z0-9._~+%-]*$", prefix):
        raise ConfigError(f"pubsub topic prefix {prefix!r} is not a valid topic id start")
    options = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(options) - {"groups"})
    if unknown:
        raise ConfigError(f"pubsub URI option {unknown[0]!r} is unknown; the one option is groups")
    groups: tuple[str, ...] | None = None
    if "groups" in options:
        groups = tuple(g for v in options["groups"] for g in v.split(",") if g)
        bad = [g for g in groups if not GROUP_RE.match(g)]
        if bad:
            raise ConfigError(f"pubsub group {bad[0]!r} is not a valid subscription id part")
    return PubSubTarget(project, prefix or None, groups)


def _requests(messages: Sequence[Outgoing]) -> list[list[list[int]]]:
    """The publish requests for `messages`, as lists of their indexes: one task per ordering
    key (its requests in order), and one task per request of unkeyed messages."""
    by_key: dict[str, list[int]] = {}
    for i, m in enumerate(messages):
        by_key.setdefault(m.ordering_key or "", []).append(i)
    tasks: list[list[list[int]]] = []
    for key, indexes in by_key.items():
        chunks: list[list[int]] = [[]]
        size = 0
        for i in indexes:
            n = len(messages[i].data) + sum(
                len(k) + len(v) for k, v in messages[i].attributes.items()
            )
            if chunks[-1] and (
                len(chunks[-1]) >= MAX_REQUEST_MESSAGES or size + n > MAX_REQUEST_BYTES
            ):
                chunks.append([])
                size = 0
            chunks[-1].append(i)
            size += n
        tasks.extend([[c] for c in chunks] if key == "" else [chunks])
    return tasks


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
    thread_safe = True  # gRPC clients: the stream processor may consume and ack from two threads
    capabilities = Capabilities(
        ordering=True,
        persistence=True,
        replay=False,  # a subscription holds only what was published after it existed
        consumer_groups=True,
        max_message_bytes=10 * 1024 * 1024,
        total_order=False,  # ordered per key: each key is its own publish sequence
    )

    def __init__(self, uri: str, options: BusOptions) -> None:
        self.target = parse_uri(uri)
        self.uri = uri
        self.options = options
        lib = _client()
        from google.api_core import exceptions

        self._exc = exceptions
        from google import pubsub_v1 as gapic

        self._gapic = gapic
        # The plain client: publish_batch sends its own requests (see there), so no batching
        # threads; like every Google client it honours PUBSUB_EMULATOR_HOST.
        self.publisher: Any = gapic.PublisherClient()
        self.subscriber = lib.SubscriberClient()
        self._pool = ThreadPoolExecutor(PUBLISH_THREADS, thread_name_prefix="trackline-pubsub")
        self._ready: set[str] = set()
        self._seen: dict[str, int] = {}

    @classmethod
    def from_uri(cls, uri: str, settings: Settings) -> PubSubBus:
        return cls(uri, BusOptions.from_settings(settings))

    def _call(
        self,
        what: str,
        fn: Callable[[], T],
        errors: tuple[type[BaseException], ...] = (),
        keep: tuple[type[BaseException], ...] = (),
    ) -> T:
        """One call, its own retry off (the client's runs for 600 s): retried here while the
        server is unavailable, for `bus_retry_seconds`, then a one-line BusError."""
        errors = errors or (self._exc.ServiceUnavailable, self._exc.DeadlineExceeded)
        try:
            result: T = retrying(what, fn, self.options.retry_seconds, errors)
        except (self._exc.AlreadyExists, self._exc.NotFound):
            raise  # the callers' to judge
        except keep:
            raise
        except (self._exc.GoogleAPICallError, self._exc.RetryError) as exc:
            raise BusError(
                f"Pub/Sub {what} failed: {getattr(exc, 'message', None) or exc}; check the "
                "server (PUBSUB_EMULATOR_HOST, or credentials for Google Cloud)"
            ) from None
        return result

    def _ensure_topic(self, topic: str) -> str:
        """The topic's path, creating it and its born groups' subscriptions on first use."""
        path = self.target.topic_path(topic)
        if path not in self._ready:
            with contextlib.suppress(self._exc.AlreadyExists):
                self._call(
                    f"create topic {path}",
                    lambda: self.publisher.create_topic(
                        request={"name": path}, timeout=CALL_TIMEOUT, retry=None
                    ),
                )
            self._ready.add(path)
            for group in self.target.born_groups(topic):
                self._subscription(topic, group)
        return path

    def ensure_group(self, topic: str, group: str) -> None:
        """Create the group's subscription (and the topic) unless it exists: messages published
        from now on are kept for the group until it acks them."""
        self._subscription(topic, group)

    def _subscription(self, topic: str, group: str) -> str:
        """The group's subscription path, created (with the topic) when it does not exist."""
        path = self.target.subscription_path(topic, group)
        if path in self._ready:
            return path
        request: dict[str, Any] = {
            "name": path,
            "topic": self._ensure_topic(topic),
            "ack_deadline_seconds": min(600, max(MIN_ACK_DEADLINE, int(self.options.ack_timeout))),
            "enable_message_ordering": True,
        }
        if not topic.endswith(DLQ_SUFFIX):
            request["dead_letter_policy"] = {
                "dead_letter_topic": self._ensure_topic(dlq(topic)),
                "max_delivery_attempts": PUBSUB_MAX_ATTEMPTS,
            }
        with contextlib.suppress(self._exc.AlreadyExists):
            self._call(
                f"create subscription {path}",
                lambda: self.subscriber.create_subscription(
                    request=request, timeout=CALL_TIMEOUT, retry=None
                ),
            )
        self._ready.add(path)
        return path

    def publish_batch(self, topic: str, messages: Sequence[Outgoing]) -> list[str]:
        """Publish and wait for every message id.

        Pub/Sub takes one ordering key per publish request (or none), so the messages are
        grouped: unkeyed ones in requests of up to 1,000 messages, each key's in its own
        requests, sent in order; requests go out on a few threads. Many distinct keys cost
        one request each, never a thread each (the official client's batching starts a thread
        per key batch: 5,000 keys were 5,000 threads here)."""
        path = self._ensure_topic(topic)
        ids = [""] * len(messages)
        make = self._gapic.PubsubMessage

        def send(chunks: list[list[int]]) -> None:
            for chunk in chunks:  # one key's requests one after the other: its order holds
                request = {
                    "topic": path,
                    "messages": [
                        make(
                            data=messages[i].data,
                            attributes=messages[i].attributes,
                            ordering_key=messages[i].ordering_key or "",
                        )
                        for i in chunk
                    ],
                }
                resp = self._call(
                    f"publish to {path}",
                    partial(
                        self.publisher.publish,
                        request=request,
                        timeout=PUBLISH_TIMEOUT,
                        retry=None,
                    ),
                    (self._exc.ServiceUnavailable,),  # a timed-out publish may have landed
                )
                for i, mid in zip(chunk, resp.message_ids, strict=True):
                    ids[i] = str(mid)

        list(self._pool.map(send, _requests(messages)))
        return ids

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
        try:
            resp = self._call(
                f"pull from {sub}",
                lambda: self.subscriber.pull(
                    request={"subscription": sub, "max_messages": max_messages},
                    timeout=max(timeout, 0.1),
                    retry=None,
                ),
                (self._exc.ServiceUnavailable,),
                keep=(self._exc.DeadlineExceeded,),
            )
        except self._exc.DeadlineExceeded:
            return []  # nothing arrived in time
        received = list(resp.received_messages)
        if received and self.options.ack_timeout < MIN_ACK_DEADLINE:
            seconds = max(1, math.ceil(self.options.ack_timeout))
            self._modack(sub, [r.ack_id for r in received], seconds)
        out = []
        for r in received:
            seen = self._seen.get(r.message.message_id, 0) + 1
            self._seen[r.message.message_id] = seen
            out.append(to_message(topic, r, seen))
        return dead_letter(self, topic, group, out, self.options.max_attempts)

    def _modack(self, sub: str, ack_ids: list[str], seconds: int) -> None:
        self._call(
            f"modify ack deadline on {sub}",
            lambda: self.subscriber.modify_ack_deadline(
                request={"subscription": sub, "ack_ids": ack_ids, "ack_deadline_seconds": seconds},
                timeout=CALL_TIMEOUT,
                retry=None,
            ),
        )

    def ack(self, topic: str, group: str, messages: Sequence[Message]) -> None:
        if not messages:
            return
        sub = self._subscription(topic, group)
        ack_ids = [m.handle for m in messages]

        def acknowledge(part: list[str]) -> Callable[[], Any]:
            return lambda: self.subscriber.acknowledge(
                request={"subscription": sub, "ack_ids": part}, timeout=CALL_TIMEOUT, retry=None
            )

        for i in range(0, len(ack_ids), 2500):  # a request carries at most 512 KiB of ids
            self._call(f"ack on {sub}", acknowledge(ack_ids[i : i + 2500]))
        for m in messages:
            self._seen.pop(m.id, None)

    def nack(self, topic: str, group: str, messages: Sequence[Message]) -> None:
        if messages:
            sub = self._subscription(topic, group)
            self._modack(sub, [m.handle for m in messages], 0)

    def lag(self, topic: str, group: str) -> int | None:
        return None  # only Cloud Monitoring knows (num_undelivered_messages)

    def delete_group(self, topic: str, group: str) -> None:
        path = self.target.subscription_path(topic, group)
        with contextlib.suppress(self._exc.NotFound):
            self._call(
                f"delete subscription {path}",
                lambda: self.subscriber.delete_subscription(
                    request={"subscription": path}, timeout=CALL_TIMEOUT, retry=None
                ),
            )
        self._ready.discard(path)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with contextlib.suppress(Exception):
            self.publisher.transport.close()
        self.subscriber.close()
