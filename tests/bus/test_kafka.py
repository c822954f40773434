"""Kafka specifics against the broker (tansu), beyond the contract suite."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from tests.services import require
from trackline.bus.base import Message, Outgoing, open_bus
from trackline.config import Settings


def drain(bus: object, topic: str, want: int, seconds: float = 15) -> list[Message]:
    got: list[Message] = []
    deadline = time.monotonic() + seconds
    while len(got) < want and time.monotonic() < deadline:
        got.extend(bus.consume(topic, "g", max_messages=want - len(got), timeout=0.5))  # type: ignore[attr-defined]
    return got


def test_an_ack_never_commits_past_an_unacked_message(tmp_path: Path) -> None:
    uri = f"kafka://{require('kafka')}?session_timeout_ms=2000"
    settings = Settings.load(home=tmp_path, bus_retry_seconds=5.0)
    topic = f"t-{uuid.uuid4().hex[:10]}"
    first = open_bus(uri, settings)
    first.publish_batch(topic, [Outgoing(b"one", {}, "k"), Outgoing(b"two", {}, "k")])
    got = drain(first, topic, 2)
    assert [m.data for m in got] == [b"one", b"two"]  # one key: one partition, in order
    first.ack(topic, "g", [got[1]])  # "one" is still unacked when the consumer dies
    first.close()
    second = open_bus(uri, settings)
    try:
        again = drain(second, topic, 2)
        assert [m.data for m in again] == [b"one", b"two"]  # from "one": nothing skipped
        second.ack(topic, "g", again)
    finally:
        second.close()
