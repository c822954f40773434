"""What the Beam stream's end-to-end tests read: a topic and its subscription on the Pub/Sub
emulator, with four valid listening events, one of an unknown kind and one of no known type
published to it (each with its `event_type` attribute)."""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.services import require
from trackline.config import Settings
from trackline.engines.beam.options import RunnerOptions
from trackline.engines.beam.run_stream import run_stream

PROJECT = "trackline-test"


@dataclass(frozen=True)
class Feed:
    subscription: str  # projects/P/subscriptions/S
    events: list[tuple[dict[str, Any], str]]  # (body, event_type attribute) as published


def events(now: datetime) -> list[tuple[dict[str, Any], str]]:
    at = now.replace(microsecond=0).isoformat()
    return [
        ({"event_id": f"e{i}", "user_id": "u", "event_type": "play", "song_id": "s",
          "timestamp": at}, "listening_events")
        for i in range(4)
    ] + [
        ({"event_id": "bad", "user_id": "u", "event_type": "dance", "song_id": "s",
          "timestamp": at}, "listening_events"),
        ({"order_id": "o1"}, "nonsense"),
    ]  # fmt: skip


@contextmanager
def published(monkeypatch: pytest.MonkeyPatch, prefix: str) -> Iterator[Feed]:
    """The events published on a new topic, read through a new subscription (both deleted
    after); PUBSUB_EMULATOR_HOST set for the test, as Beam's reader finds the emulator."""
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", require("pubsub"))
    pubsub_v1: Any = importlib.import_module("google.cloud.pubsub_v1")  # untyped client
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(PROJECT, name)
    sub = subscriber.subscription_path(PROJECT, name)
    publisher.create_topic(name=topic, timeout=60)
    subscriber.create_subscription(name=sub, topic=topic, timeout=60)
    sent = events(datetime.now(UTC))
    for body, event in sent:
        publisher.publish(topic, json.dumps(body).encode(), event_type=event).result(timeout=60)
    try:
        yield Feed(sub, sent)
    finally:
        subscriber.delete_subscription(subscription=sub, timeout=60)
        publisher.delete_topic(topic=topic, timeout=60)


def stream_until(settings: Settings, subscription: str, landed: Callable[[], bool]) -> Any:
    """The Beam stream on the DirectRunner, stopped once `landed` says so or after 180 s; its
    summary. Windows of 5 s instead of a minute: a window is written once the watermark
    passes its end, so the test need not wait a minute for one."""
    return run_stream(
        settings,
        RunnerOptions(),
        subscription=subscription,
        seconds=180,
        window_seconds=5,
        stop_when=landed,
    )
