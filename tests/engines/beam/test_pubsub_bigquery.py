"""The streaming pipeline end to end with a BigQuery warehouse: messages published to the
Pub/Sub emulator, read by Beam's Pub/Sub reader, checked per type, their valid rows committed
to the type's BigQuery table through the Storage Write API (bqemulator), dead letters in the
lake; the tables made by `trackline stream --engine beam` before it starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.engines.beam.pubsub_feed import published, stream_until
from tests.warehouse.bigquery_emulator import bigquery_settings
from trackline.config import Settings
from trackline.warehouse.bigquery_client import BigQuery


def test_pubsub_to_bigquery_through_beam(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = bigquery_settings(tmp_path / "home", "p", storage=True)
    with published(monkeypatch, "beam-bq") as feed:
        _to_bigquery(settings, feed.subscription)


def _to_bigquery(settings: Settings, sub: str) -> None:
    lake = Path(settings.lake)
    bq = BigQuery(settings)
    table = bq.target.table("listening_events")

    def landed() -> bool:
        errors = list((lake / "raw" / "errors").rglob("*.ndjson"))
        if len(errors) < 2:  # the dead letters first: no query before the window closed
            return False
        return int(bq.query(f"SELECT COUNT(*) AS n FROM `{table}`").column("n")[0].as_py()) >= 4

    try:
        summary = stream_until(settings, sub, landed)
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
