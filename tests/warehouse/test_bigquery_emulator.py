"""The BigQuery warehouse against the emulator (bqemulator 1.4.0, `scripts/services/bigquery.sh`).

Each test works in a dataset of its own. What the emulator does not do (and so what these
tests cannot show) is listed in docs/warehouse.md.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.warehouse.bigquery_emulator import bigquery_settings
from trackline.bus.base import open_bus
from trackline.config import Settings
from trackline.contracts.loader import ContractRegistry
from trackline.engines.local import LocalEngine
from trackline.generate.writers import write
from trackline.stream.consumer import StreamProcessor
from trackline.stream.events import EVENT_TYPES
from trackline.stream.publisher import publish_events
from trackline.warehouse.bigquery_client import BigQuery

PROJECT = "trackline-test"


@pytest.fixture
def bq_settings(tmp_path: Path) -> Iterator[Settings]:
    # many batches per input: a per-batch upload would show in the calls
    yield bigquery_settings(tmp_path / "home", "t", batch_rows=100)


def rows(settings: Settings, sql: str, **params: Any) -> list[dict[str, Any]]:
    bq = BigQuery(settings)
    try:
        found: list[dict[str, Any]] = bq.query(sql, params).to_pylist()
        return found
    finally:
        bq.close()


def table(settings: Settings, name: str) -> str:
    assert settings.warehouse_uri is not None
    project, dataset = settings.warehouse_uri.removeprefix("bigquery://").split("/")
    return f"`{project}.{dataset}.{name}`"


def test_seed_tables_are_partitioned_and_clustered_as_their_contracts_say(
    bq_settings: Settings, tmp_path: Path
) -> None:
    engine = LocalEngine(bq_settings)
    expected = {
        "orders": ("order_date", ["status"]),
        "inventory": ("timestamp", ["reason"]),
        "user_activity": ("timestamp", ["activity_type"]),
    }
    for name in expected:
        path = tmp_path / f"{name}.ndjson"
        write(name, 60, path, seed=2)
        result = engine.ingest([str(path)], name)
        assert result.manifest.counts.valid > 0
    bq = BigQuery(bq_settings)
    try:
        for name, (field, cluster) in expected.items():
            meta = bq.client.get_table(bq.target.table(name), timeout=20)
            assert meta.time_partitioning.field == field
            assert meta.time_partitioning.type_ == "DAY"
            assert meta.clustering_fields == cluster
            assert {"ingestion_time", "run_id"} <= {f.name for f in meta.schema}
        columns = bq.query(
            f"SELECT table_name, column_name, is_partitioning_column, "
            f"clustering_ordinal_position FROM `{PROJECT}.{bq.target.dataset}`"
            ".INFORMATION_SCHEMA.COLUMNS"
        ).to_pylist()
    finally:
        bq.close()
    for name, (field, cluster) in expected.items():
        mine = {c["column_name"]: c for c in columns if c["table_name"] == name}
        assert [c for c, v in mine.items() if v["is_partitioning_column"] == "YES"] == [field]
        assert [c for c, v in mine.items() if v["clustering_ordinal_position"] == 1] == cluster


def test_a_second_file_adds_only_the_keys_bigquery_lacks(
    bq_settings: Settings, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    write("orders", 300, first, seed=5)
    lines = first.read_text().splitlines()
    write("orders", 200, tmp_path / "new.ndjson", seed=6)
    new = (tmp_path / "new.ndjson").read_text().splitlines()
    second.write_text("\n".join(lines[:120] + new) + "\n")  # 120 known keys, 200 new ones
    engine = LocalEngine(bq_settings)
    a = engine.ingest([str(first)], "orders").manifest.counts
    b = engine.ingest([str(second)], "orders").manifest.counts
    assert (a.valid, a.duplicates) == (300, 0)
    assert b.duplicates_in_warehouse == 120 and b.valid == 200 and b.input == 320
    orders = table(bq_settings, "orders")
    [got] = rows(
        bq_settings,
        f"SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS keys, "
        f"COUNTIF(run_id = @b) AS second FROM {orders}",
        b=engine.ingest([str(second)], "orders").manifest.run_id,  # asked again: same run
    )
    assert got == {"n": 500, "keys": 500, "second": 200}
    report = rows(
        bq_settings,
        f"SELECT body FROM {table(bq_settings, 'meta_reports')} WHERE kind = 'quality'",
    )
    assert len(report) == 2  # one per run, not one per attempt
    # nothing left behind: no staging table in BigQuery, no working file here
    bq = BigQuery(bq_settings)
    try:
        names = bq.list_tables()
    finally:
        bq.close()
    assert not [n for n in names if n.startswith("_")]
    assert {"orders", "meta_runs", "meta_rejected", "meta_reports"} <= set(names)
    assert not list((bq_settings.home / "bigquery-work").iterdir())


def test_api_calls_grow_with_neither_rows_nor_partitions(
    bq_settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = LocalEngine(bq_settings)
    calls: list[int] = []
    days: list[int] = []
    for n, seed in ((40, 1), (40, 2), (2000, 3)):  # the first creates the tables
        path = tmp_path / f"orders-{n}-{seed}.ndjson"
        write("orders", n, path, seed=seed)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="trackline.warehouse"):
            run = engine.ingest([str(path)], "orders")
        assert run.manifest.counts.valid == n
        [line] = [r.getMessage() for r in caplog.records if "bigquery.calls" in r.getMessage()]
        calls.append(int(re.search(r"calls=(\d+)", line).group(1)))  # type: ignore[union-attr]
        [d] = rows(
            bq_settings,
            f"SELECT COUNT(DISTINCT DATE(order_date)) AS d FROM {table(bq_settings, 'orders')} "
            "WHERE run_id = @r",
            r=run.manifest.run_id,
        )
        days.append(d["d"])
    small, large = calls[1], calls[2]
    assert days[2] > days[1]  # more rows and more partitions...
    assert large <= small + 2 < 40  # ...same calls (2 of slack: a job polled once more)


def test_the_stream_appends_each_type_once(bq_settings: Settings) -> None:
    settings = bq_settings.model_copy(update={"stream_batch_size": 400})
    bus = open_bus(None, settings)
    now = datetime.now(UTC) - timedelta(hours=1)
    contracts = ContractRegistry()
    publish_events(bus, "events", 300, EVENT_TYPES, contracts, invalid_share=0.05, seed=4, now=now)
    proc = StreamProcessor(settings, bus)
    proc.run(idle_exit=0.3)
    summary = proc.summary()
    # the same events again (a producer's retry): nothing new reaches BigQuery
    publish_events(bus, "events", 300, EVENT_TYPES, contracts, invalid_share=0.05, seed=4, now=now)
    again = StreamProcessor(settings, bus)
    again.run(idle_exit=0.3)
    bus.close()
    assert again.summary()["valid"] == 0 and again.summary()["events"] == 300
    total = 0
    for event, counts in summary["by_type"].items():
        if event == "unknown" or not counts["valid"]:
            continue
        [got] = rows(
            settings,
            f"SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS k FROM {table(settings, event)}",
        )
        assert got["n"] == got["k"] == counts["valid"]
        total += got["n"]
    assert total == summary["valid"] > 0
    [rej] = rows(
        settings,
        f"SELECT COUNT(DISTINCT source_file) AS n FROM {table(settings, 'meta_rejected')}",
    )
    # each stream's rejected messages once (a republished message has a new id)
    assert rej["n"] == summary["rejected"] + again.summary()["rejected"] > 0


def test_the_stream_keeps_one_client_so_a_batch_costs_only_its_own_calls(
    bq_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A micro-batch of one event type into a table that holds rows costs its own calls
    only: the key check (staging table, load, query, drop), the merge (staging table, load,
    MERGE, drop) and the metadata. Reopening the client per batch added the dataset, the
    table list, the table's columns and an emptiness query: 26 calls a batch, not 19."""
    totals = []
    for count in (100, 250):  # 2 and 5 batches of 50
        settings = bq_settings.model_copy(
            update={
                "stream_batch_size": 50,
                "warehouse_uri": f"bigquery://{PROJECT}/s_{uuid.uuid4().hex[:12]}",
            }
        )
        bus = open_bus(None, settings)
        now = datetime.now(UTC) - timedelta(hours=1)
        publish_events(bus, "events", count, ["orders"], ContractRegistry(), seed=9, now=now)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="trackline.warehouse"):
            proc = StreamProcessor(settings, bus)
            proc.run(idle_exit=0.3)
        bus.close()
        assert proc.summary()["valid"] == count
        lines = [r.getMessage() for r in caplog.records if "bigquery.calls" in r.getMessage()]
        totals.append(
            (proc.summary()["batches"], sum(int(re.findall(r"calls=(\d+)", m)[0]) for m in lines))
        )
    (few, few_calls), (more, more_calls) = totals
    assert more > few
    per_batch = (more_calls - few_calls) / (more - few)
    assert per_batch <= 21  # 19 measured; 2 of slack (a job polled once more)
