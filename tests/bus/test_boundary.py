"""Pub/Sub and Kafka without a server: URIs, message mapping, the missing-extra error (the
contract suite runs them against the emulator and tansu)."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from trackline.bus import kafka, pubsub
from trackline.bus.base import REGISTRY, BusError, open_bus, redact
from trackline.config import Settings
from trackline.errors import ConfigError


def test_pubsub_uri_names_project_and_prefix() -> None:
    t = pubsub.parse_uri("pubsub://my-project-1/trackline")
    assert t.topic_path("cdc.carts") == "projects/my-project-1/topics/trackline.cdc.carts"
    assert t.subscription_path("events", "stream") == (
        "projects/my-project-1/subscriptions/trackline.events.stream"
    )
    assert pubsub.parse_uri("pubsub://my-project-1").topic_id("events") == "events"
    for bad in ("pubsub://", "pubsub://X", "pubsub://my-project-1/9bad"):
        with pytest.raises(ConfigError):
            pubsub.parse_uri(bad)


def test_pubsub_born_groups_default_and_from_the_uri() -> None:
    default = pubsub.parse_uri("pubsub://my-project-1")
    assert default.born_groups("events") == ("trackline-stream",)
    assert default.born_groups("events.dlq") == ("trackline-stream",)
    assert default.born_groups("sessions") == ("workers",)
    named = pubsub.parse_uri("pubsub://my-project-1/p?groups=a,b.c")
    assert named.born_groups("sessions") == ("a", "b.c") and named.prefix == "p"
    for bad in ("pubsub://my-project-1?group=a", "pubsub://my-project-1?groups=a/b"):
        with pytest.raises(ConfigError):
            pubsub.parse_uri(bad)


def test_pubsub_message_mapping() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    received = SimpleNamespace(
        ack_id="ack-1",
        delivery_attempt=0,
        message=SimpleNamespace(
            message_id="42",
            data=b"{}",
            attributes={"event_type": "orders"},
            ordering_key="orders:o1",
            publish_time=when,
        ),
    )
    m = pubsub.to_message("events", received, seen=2)
    assert (m.id, m.data, m.attributes, m.ordering_key) == (
        "42",
        b"{}",
        {"event_type": "orders"},
        "orders:o1",
    )
    assert m.publish_time == when.timestamp() and m.delivery_attempt == 2 and m.handle == "ack-1"
    received.delivery_attempt = 5  # Pub/Sub's own count wins when the subscription keeps one
    assert pubsub.to_message("events", received, seen=1).delivery_attempt == 5


def test_kafka_uri_and_message_mapping() -> None:
    assert kafka.parse_uri("kafka://b1:9092,b2.local:9093") == "b1:9092,b2.local:9093"
    for bad in ("kafka://", "kafka://host", "kafka://h:port"):
        with pytest.raises(ConfigError):
            kafka.parse_uri(bad)
    assert kafka.parse_uri("kafka://b1:9092?session_timeout_ms=2000") == "b1:9092"
    assert kafka.session_timeout_ms("kafka://b1:9092?session_timeout_ms=2000") == 2000
    assert kafka.session_timeout_ms("kafka://b1:9092") == kafka.SESSION_TIMEOUT_MS
    for bad in (
        "kafka://b:1?session_timeout_ms=5",
        "kafka://b:1?session_timeout_ms=x",
        "kafka://b:1?acks=0",
    ):
        with pytest.raises(ConfigError):
            kafka.session_timeout_ms(bad)
    record = SimpleNamespace(
        key=lambda: b"inventory:WH-01/3",
        value=lambda: b"{}",
        partition=lambda: 2,
        offset=lambda: 17,
        timestamp=lambda: (1, 1_700_000_000_500),
        headers=lambda: [("event_type", b"inventory")],
    )
    m = kafka.to_message("events", record, attempt=1)
    assert (m.id, m.ordering_key, m.attributes) == (
        "2:17",
        "inventory:WH-01/3",
        {"event_type": "inventory"},
    )
    assert m.publish_time == 1_700_000_000.5 and m.handle == (2, 17)


@pytest.mark.parametrize(
    ("uri", "module", "extra"),
    [
        ("pubsub://my-project-1", "google.cloud.pubsub_v1", "trackline[gcp]"),
        ("kafka://127.0.0.1:9092", "confluent_kafka", "trackline[kafka]"),
    ],
)
def test_a_missing_extra_says_what_to_install(
    uri: str, module: str, extra: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    with pytest.raises(ConfigError, match=extra.replace("[", r"\[").replace("]", r"\]")):
        open_bus(uri, Settings.load(home=tmp_path))


def test_unknown_scheme_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        open_bus("amqp://guest:secret@localhost/", Settings.load(home=tmp_path))
    assert "secret" not in str(exc.value)
    assert all(f"{s}://" in str(exc.value) for s in REGISTRY)


def test_redact_hides_passwords_and_tokens() -> None:
    assert redact("redis://u:pw@h:1/0") == "redis://u:***@h:1/0"
    assert redact("nats://tok@h:4222") == "nats://***@h:4222"
    assert (
        redact("kafka://h:1?sasl_password=x&token=y") == "kafka://h:1?sasl_password=***&token=***"
    )
    assert redact("log:///var/bus.db") == "log:///var/bus.db"


def test_default_bus_is_the_log_under_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRACKLINE_BUS_URI", raising=False)
    s = Settings.load(home=tmp_path)
    assert s.bus == f"log://{(tmp_path / 'bus.db').absolute()}"
    monkeypatch.setenv("TRACKLINE_BUS_URI", "redis://127.0.0.1:6379/0")
    assert Settings.load(home=tmp_path).bus == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize("uri", ["pubsub://my-project-1", "kafka://127.0.0.1:1"])
def test_a_dead_server_is_one_bus_error_in_bounded_time(
    uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listens: the clients' own retries (600 s for Google's) must not run; the
    bus's retry window does, then one BusError that says what to check."""
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:1")
    bus = open_bus(uri, Settings.load(home=tmp_path, bus_retry_seconds=1.0))
    started = time.monotonic()
    with pytest.raises(BusError, match="check the"):
        bus.publish("events", b"x")
    assert time.monotonic() - started < 20
