"""Pub/Sub specifics against the emulator, beyond the contract suite: born groups, many
ordering keys in one batch, ack timeouts under Pub/Sub's 10 s minimum."""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import require
from trackline.bus.base import Message, Outgoing
from trackline.bus.pubsub import PubSubBus
from trackline.config import Settings


@pytest.fixture
def make(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[object]:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", require("pubsub"))
    project = f"tl-{uuid.uuid4().hex[:12]}"
    opened: list[PubSubBus] = []

    def open_one(query: str = "", **values: object) -> PubSubBus:
        settings = Settings.load(home=tmp_path, bus_retry_seconds=5.0, **values)  # type: ignore[arg-type]
        bus = PubSubBus.from_uri(f"pubsub://{project}{query}", settings)
        opened.append(bus)
        return bus

    yield open_one
    for bus in opened:
        bus.close()


def drain(bus: PubSubBus, topic: str, group: str, want: int) -> list[Message]:
    got: list[Message] = []
    deadline = time.monotonic() + 15
    while len(got) < want and time.monotonic() < deadline:
        batch = bus.consume(topic, group, max_messages=1000, timeout=1)
        bus.ack(topic, group, batch)
        got.extend(batch)
    return got


def test_a_topic_is_born_with_its_groups_so_an_early_publish_waits(make: object) -> None:
    publisher = make()  # type: ignore[operator]
    publisher.publish("events", b"early", {"event_type": "orders"})  # no consumer yet
    late = make()  # type: ignore[operator]
    assert [m.data for m in drain(late, "events", "trackline-stream", 1)] == [b"early"]
    # a group that was not born with the topic starts with what comes after it
    assert late.consume("events", "latecomer", timeout=0.5) == []
    named = make("?groups=audit")  # type: ignore[operator]
    named.publish("other", b"kept")
    assert [m.data for m in drain(late, "other", "audit", 1)] == [b"kept"]


def test_many_ordering_keys_in_one_batch_keep_order_without_a_thread_each(make: object) -> None:
    bus = make()  # type: ignore[operator]
    topic = f"t-{uuid.uuid4().hex[:8]}"
    bus.ensure_group(topic, "g")
    sent = [Outgoing(f"{k}:{i}".encode(), {}, f"key-{k}") for i in range(2) for k in range(100)]
    sent += [Outgoing(f"none:{i}".encode()) for i in range(1100)]  # two unkeyed requests
    peak = [threading.active_count()]
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], threading.active_count())
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        ids = bus.publish_batch(topic, sent)
    finally:
        stop.set()
        watcher.join()
    assert len(set(ids)) == len(sent) and all(ids)
    assert peak[0] < 40  # a thread per key batch would be 100 and more
    got = drain(bus, topic, "g", len(sent))
    assert sorted(m.data for m in got) == sorted(m.data for m in sent)
    per_key: dict[str, list[bytes]] = defaultdict(list)
    for m in got:
        if m.ordering_key:
            per_key[m.ordering_key].append(m.data)
    assert per_key == {f"key-{k}": [f"{k}:{i}".encode() for i in range(2)] for k in range(100)}


def test_an_ack_timeout_under_ten_seconds_redelivers_in_time(make: object) -> None:
    bus = make(bus_ack_timeout_seconds=2.0)  # type: ignore[operator]
    topic = f"t-{uuid.uuid4().hex[:8]}"
    bus.ensure_group(topic, "g")
    bus.publish(topic, b"slow")
    first = bus.consume(topic, "g", timeout=5)
    assert [m.data for m in first] == [b"slow"]
    assert bus.consume(topic, "g", timeout=0.5) == []  # still leased
    time.sleep(2.5)  # Pub/Sub's own minimum would hold it for 10 s
    again = bus.consume(topic, "g", timeout=5)
    assert [m.id for m in again] == [first[0].id] and again[0].delivery_attempt == 2


def test_an_empty_pull_is_an_empty_list_not_an_error(make: object) -> None:
    bus = make()  # type: ignore[operator]
    topic = f"t-{uuid.uuid4().hex[:8]}"
    bus.ensure_group(topic, "g")
    # the emulator answers an empty pull at once or lets the call's deadline pass
    assert all(bus.consume(topic, "g", timeout=t) == [] for t in (0.1, 0.3, 1.0, 2.0))
