"""The streaming pipeline end to end against the Pub/Sub emulator: messages published with
attributes reach the lake as raw files per type and minute, dead letters and valid rows, read
through Beam's own Pub/Sub reader (anonymous credentials, the emulator's endpoint)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.engines.beam.pubsub_feed import Feed, published, stream_until
from trackline.config import Settings


def test_pubsub_to_lake_through_beam(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with published(monkeypatch, "beam") as feed:
        _to_lake(tmp_path, feed)


def _to_lake(tmp_path: Path, feed: Feed) -> None:
    events, sub = feed.events, feed.subscription
    settings = Settings.load(home=tmp_path / "home")
    lake = Path(settings.lake)

    def raw_lines() -> set[bytes]:
        """Every payload in the raw files (dead letters are under raw/errors)"""
        return {
            line
            for f in (lake / "raw").rglob("*.ndjson")
            if "errors" not in f.relative_to(lake).parts
            for line in f.read_bytes().splitlines()
        }

    def landed() -> bool:
        tables = list((lake / "tables").rglob("*.parquet")) if (lake / "tables").exists() else []
        errors = list((lake / "raw" / "errors").rglob("*.ndjson"))
        return len(raw_lines()) >= len(events) and len(errors) >= 2 and bool(tables)

    summary = stream_until(settings, sub, landed)  # stopped once everything landed
    assert summary.get("source") == sub
    # every message as received (a message redelivered after a cancel may appear twice: the
    # lake is at least once)
    assert raw_lines() == {json.dumps(body).encode() for body, _ in events}
    minute = sorted((lake / "raw" / "listening_events").rglob("*.ndjson"))
    assert minute and all(len(p.relative_to(lake / "raw").parts) == 7 for p in minute)
    dead = [json.loads(x) for f in (lake / "raw" / "errors").rglob("*.ndjson") for x in f.open()]
    assert {d["reasons"][0] for d in dead} == {"enum:event_type", "unknown_event_type"}
    assert all(d["attributes"]["event_type"] for d in dead)  # attributes kept
    rows = [
        r for f in (lake / "tables" / "listening_events").rglob("*.parquet")
        for r in pq.read_table(f).to_pylist()
    ]  # fmt: skip
    assert {r["event_id"] for r in rows} == {"e0", "e1", "e2", "e3"}
