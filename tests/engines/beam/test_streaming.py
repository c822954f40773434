"""The streaming pipeline on the DirectRunner in streaming mode, fed by a TestStream: raw files
per event type and minute (one file per type and minute, not per event), dead letters with
their reasons, unknown types as dead letters, valid rows per type and minute."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_stream import TestStream as Feed
from apache_beam.transforms.window import TimestampedValue

from trackline.contracts.loader import builtin_contracts
from trackline.engines.beam.streaming import StreamJob, build

MINUTE = datetime(2026, 6, 1, 10, 15, tzinfo=UTC)  # a minute's start
TYPES = ("listening_events", "orders")


def listen(i: int, at: datetime, **over: Any) -> dict[str, Any]:
    return {
        "event_id": f"e{i}",
        "user_id": "u1",
        "event_type": "play",
        "song_id": "s1",
        "timestamp": at.isoformat(),
        **over,
    }


def message(i: int, at: datetime, body: bytes | dict[str, Any], event: str | None) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    attrs = {"event_type": event} if event else {}
    msg = PubsubMessage(data, attrs, message_id=f"m{i}", publish_time=at)
    return TimestampedValue(msg, at.timestamp())


def test_minutes_types_dead_letters_and_valid_rows(tmp_path: Path) -> None:
    first = [
        message(i, MINUTE + timedelta(seconds=i), listen(i, MINUTE), "listening_events")
        for i in range(5)
    ]
    first += [
        message(5, MINUTE + timedelta(seconds=6), listen(0, MINUTE), "listening_events"),  # repeat
        message(6, MINUTE + timedelta(seconds=7), b'{"event_id": ', "listening_events"),
        message(
            7,
            MINUTE + timedelta(seconds=8),
            listen(7, MINUTE, event_type="dance"),
            "listening_events",
        ),
        message(8, MINUTE + timedelta(seconds=9), listen(8, MINUTE), "nonsense"),
        message(9, MINUTE + timedelta(seconds=10), listen(9, MINUTE), None),
    ]
    later = MINUTE + timedelta(minutes=1)
    second = [
        message(10 + i, later + timedelta(seconds=i), listen(10 + i, later), "listening_events")
        for i in range(3)
    ]
    stream = (
        Feed()
        .add_elements(first)
        .advance_watermark_to(later.timestamp())
        .add_elements(second)
        .advance_watermark_to_infinity()
    )
    contracts = builtin_contracts()
    lake = tmp_path / "lake"
    job = StreamJob(contracts={t: contracts[t] for t in TYPES}, lake_uri=str(lake))
    options = PipelineOptions(["--runner=BundleBasedDirectRunner", "--streaming"])
    with beam.Pipeline(options=options) as p:
        build(p | stream, job)

    def files(*parts: str) -> list[Path]:
        return sorted((lake.joinpath(*parts)).rglob("*.*"))

    m1, m2 = "2026/06/01/10/15", "2026/06/01/10/16"
    raw1, raw2 = files("raw", "listening_events", m1), files("raw", "listening_events", m2)
    assert len(raw1) == 1 and len(raw2) == 1  # one file per type and minute
    assert len(raw1[0].read_bytes().splitlines()) == 8  # every message as received
    assert len(raw2[0].read_bytes().splitlines()) == 3
    dead = [json.loads(x) for f in files("raw", "errors", "listening_events") for x in f.open()]
    assert sorted((d["message_id"], d["reasons"]) for d in dead) == [
        ("m6", ["malformed"]),
        ("m7", ["enum:event_type"]),
    ]
    unknown = [json.loads(x) for f in files("raw", "errors", "unknown", m1) for x in f.open()]
    assert sorted(d["message_id"] for d in unknown) == ["m8", "m9"]
    assert all(d["reasons"] == ["unknown_event_type"] for d in unknown)
    rows1 = [
        r for f in files("tables", "listening_events", m1) for r in pq.read_table(f).to_pylist()
    ]
    rows2 = [
        r for f in files("tables", "listening_events", m2) for r in pq.read_table(f).to_pylist()
    ]
    assert sorted(r["event_id"] for r in rows1) == ["e0", "e1", "e2", "e3", "e4"]  # e0 once
    assert sorted(r["event_id"] for r in rows2) == ["e10", "e11", "e12"]
    assert not list(lake.rglob("*.temp*"))
