"""The streaming pipeline end to end with a BigQuery warehouse: messages published to the
Pub/Sub emulator, read by Beam's Pub/Sub reader, checked per type, their valid rows committed
to the type's BigQuery table through the Storage Write API (bqemulator), dead letters in the
lake; the tables made by `trackline stream --engine beam` before it starts."""

from __future__ import annotations

import importlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.services import require
from trackline.config import Settings
from trackline.engines.beam.options import RunnerOptions
from trackline.engines.beam.run_stream import run_stream
from trackline.warehouse.bigquery_client import BigQuery

PROJECT = "trackline-test"


def test_pubsub_to_bigquery_through_beam(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", require("pubsub"))
    settings = Settings.load(
        home=tmp_path / "home",
        warehouse_uri=f"bigquery://{PROJECT}/p_{uuid.uuid4().hex[:12]}",
        bigquery_endpoint=require("bigquery"),
        bigquery_storage_endpoint=require("bigquery_storage"),
        http_timeout_seconds=20,
    )
    pubsub_v1: Any = importlib.import_module("google.cloud.pubsub_v1")  # untyped client
    name = f"beam-bq-{uuid.uuid4().hex[:10]}"
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(PROJECT, name)
    sub = subscriber.subscription_path(PROJECT, name)
    publisher.create_topic(name=topic, timeout=60)
    subscriber.create_subscription(name=sub, topic=topic, timeout=60)
    now = datetime.now(UTC).replace(microsecond=0)
    events = [
        ({"event_id": f"e{i}", "user_id": "u", "event_type": "play", "song_id": "s",
          "timestamp": now.isoformat()}, "listening_events")
        for i in range(4)
    ] + [
        ({"event_id": "bad", "user_id": "u", "event_type": "dance", "song_id": "s",
          "timestamp": now.isoformat()}, "listening_events"),
        ({"order_id": "o1"}, "nonsense"),
    ]  # fmt: skip
    for body, event in events:
        publisher.publish(topic, json.dumps(body).encode(), event_type=event).result(timeout=60)
    lake = Path(settings.lake)
    bq = BigQuery(settings)
    table = bq.target.table("listening_events")

    def landed() -> bool:
        errors = list((lake / "raw" / "errors").rglob("*.ndjson"))
        if len(errors) < 2:  # the dead letters first: no query before the window closed
            return False
        return int(bq.query(f"SELECT COUNT(*) AS n FROM `{table}`").column("n")[0].as_py()) >= 4

    try:
        # 5 s windows instead of a minute; stopped once everything landed, or after 180 s
        summary = run_stream(
            settings,
            RunnerOptions(),
            subscription=sub,
            seconds=180,
            window_seconds=5,
            stop_when=landed,
        )
        rows = bq.query(f"SELECT event_id, run_id, ingestion_time FROM `{table}`").to_pylist()
    finally:
        bq.close()
    assert summary["warehouse"] == settings.warehouse_uri
    # at least once: a message redelivered after the cancel may add its row again
    assert {r["event_id"] for r in rows} == {"e0", "e1", "e2", "e3"}
    assert {r["run_id"] for r in rows} == {summary["run_id"]}
    assert all(r["ingestion_time"] for r in rows)
    assert not (lake / "tables").exists()
    dead = [json.loads(x) for f in (lake / "raw" / "errors").rglob("*.ndjson") for x in f.open()]
    assert {d["reasons"][0] for d in dead} == {"enum:event_type", "unknown_event_type"}
    subscriber.delete_subscription(subscription=sub, timeout=60)
    publisher.delete_topic(topic=topic, timeout=60)
