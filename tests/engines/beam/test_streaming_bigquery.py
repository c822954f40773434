"""The streaming pipeline with a BigQuery warehouse (bqemulator: REST on 9050, Storage Write API
on 9060), on the DirectRunner in streaming mode fed by a TestStream: each type's valid rows of
a window land in the type's table (the one `trackline stream` writes: same columns, with
`ingestion_time` and the stream's `run_id`), rejected rows in the lake's error files, no
Parquet `tables/` files, and every message is counted once (valid + rejected + duplicates)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import apache_beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing import test_stream

from tests.engines.beam.test_streaming import MINUTE, listen, message
from tests.warehouse.bigquery_emulator import bigquery_settings
from trackline.config import Settings
from trackline.contracts.loader import builtin_contracts
from trackline.engines.beam.stream_warehouse import derived_types, prepare
from trackline.engines.beam.streaming import StreamJob, build
from trackline.errors import ConfigError
from trackline.warehouse.bigquery_client import BigQuery
from trackline.warehouse.bigquery_ddl import table_schema

beam: Any = apache_beam  # untyped: one Any, not an ignore per call
Feed: Any = test_stream.TestStream  # not named Test*: pytest would try to collect it
PROJECT = "trackline-test"
TYPES = ("listening_events", "orders")


def order(i: int, at: Any, **over: Any) -> dict[str, Any]:
    return {
        "event_id": f"o{i}",
        "order_id": f"ord{i}",
        "customer_id": "c1",
        "status": "paid",
        "order_date": at.isoformat(),
        "items_count": 2,
        "total_amount": 10.0 * (i + 1),
        "discount_amount": 1.0,
        "currency": "eur",
        **over,
    }


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return bigquery_settings(tmp_path / "home", "s", storage=True)


CAPTURED: dict[str, list[tuple[str, str]]] = {}  # per test: what the pipeline yielded


class Capture(beam.DoFn):  # type: ignore[misc]
    """The DirectRunner runs in this process: the outputs are kept here (its counters of a
    streaming run miss later windows, so the test reads the outputs instead)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def process(self, item: tuple[str, str]) -> list[Any]:
        CAPTURED.setdefault(self.token, []).append(item)
        return []


def test_valid_rows_per_type_go_to_bigquery_and_rejects_to_the_lake(
    settings: Settings, tmp_path: Path
) -> None:
    contracts = builtin_contracts()
    chosen = {t: contracts[t] for t in TYPES}
    target = prepare(settings, chosen)
    first = [
        message(i, MINUTE + timedelta(seconds=i), listen(i, MINUTE, duration_ms=4000,
                position_ms=1000), "listening_events")
        for i in range(5)
    ]  # fmt: skip
    first += [
        message(5, MINUTE + timedelta(seconds=6), listen(0, MINUTE), "listening_events"),  # repeat
        message(6, MINUTE + timedelta(seconds=7), b'{"event_id": ', "listening_events"),
        message(7, MINUTE + timedelta(seconds=8), listen(7, MINUTE, event_type="dance"),
                "listening_events"),
        message(8, MINUTE + timedelta(seconds=9), listen(8, MINUTE), "nonsense"),
        message(20, MINUTE + timedelta(seconds=11), order(0, MINUTE), "orders"),
        message(21, MINUTE + timedelta(seconds=12), order(1, MINUTE), "orders"),
        message(22, MINUTE + timedelta(seconds=13), order(2, MINUTE, items_count=0), "orders"),
    ]  # fmt: skip
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
        .advance_watermark_to((later + timedelta(minutes=1)).timestamp())
        .add_elements([message(30, later + timedelta(minutes=1), b"{}", None)])
        .advance_watermark_to_infinity()
    )
    lake = tmp_path / "lake"
    job = StreamJob(chosen, str(lake), bigquery=target, run_id="stream-beam-test")
    options = PipelineOptions(["--runner=BundleBasedDirectRunner", "--streaming"])
    p = beam.Pipeline(options=options)
    token = uuid.uuid4().hex
    _ = build(p | stream, job) | beam.ParDo(Capture(token))
    p.run().wait_until_finish()
    out = CAPTURED.pop(token, [])

    bq = BigQuery(settings)
    try:
        listens = bq.query(
            f"SELECT * FROM `{bq.target.table('listening_events')}` ORDER BY event_id"
        ).to_pylist()
        orders = bq.query(
            f"SELECT * FROM `{bq.target.table('orders')}` ORDER BY event_id"
        ).to_pylist()
        columns = bq.table_columns("listening_events")
    finally:
        bq.close()
    # the local stream's table: contract columns, derived ones, lineage, ingestion_time, run_id
    local = table_schema(
        contracts["listening_events"], derived_types(contracts["listening_events"])
    )
    assert columns == [c[0] for c in local]
    assert [r["event_id"] for r in listens] == ["e0", "e1", "e10", "e11", "e12", "e2", "e3", "e4"]
    assert all(r["run_id"] == "stream-beam-test" and r["ingestion_time"] for r in listens)
    assert all(r["_source_file"] is None and r["_source_line"] is None for r in listens)
    assert [r["progress_ratio"] for r in listens[:2]] == [0.25, 0.25]  # derived by the kernel
    assert [r["track_time_seconds"] for r in listens[:2]] == [4.0, 4.0]
    assert [r["timestamp"] for r in listens[:2]] == [MINUTE, MINUTE]
    assert [(r["event_id"], r["net_amount"], r["currency"]) for r in orders] == [
        ("o0", 9.0, "EUR"),
        ("o1", 19.0, "EUR"),
    ]
    assert not (lake / "tables").exists()  # BigQuery instead of Parquet
    dead = [json.loads(x) for f in (lake / "raw" / "errors").rglob("*.ndjson") for x in f.open()]
    assert sorted((d["message_id"], d["reasons"][0]) for d in dead) == [
        ("m22", "min:items_count"),
        ("m30", "unknown_event_type"),
        ("m6", "malformed"),
        ("m7", "enum:event_type"),
        ("m8", "unknown_event_type"),
    ]
    commits = sorted(v for k, v in out if k == "bigquery")
    assert commits == ["listening_events:3", "listening_events:5", "orders:2"]  # one a window
    raw = [
        x
        for f in (lake / "raw").rglob("*.ndjson")
        if "errors" not in f.relative_to(lake).parts
        for x in f.open()
    ]
    duplicates = 1  # m5 repeats e0 within its minute
    assert len(raw) == 16 == len(listens) + len(orders) + len(dead) + duplicates


def test_an_emulator_without_its_storage_endpoint_is_refused(tmp_path: Path) -> None:
    settings = Settings.load(
        home=tmp_path / "home",
        warehouse_uri=f"bigquery://{PROJECT}/nowhere",
        bigquery_endpoint="http://127.0.0.1:9",
    )
    with pytest.raises(ConfigError, match="TRACKLINE_BIGQUERY_STORAGE_ENDPOINT"):
        prepare(settings, {"orders": builtin_contracts()["orders"]})
