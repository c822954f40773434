"""The warehouse sinks a micro-batch writes through: each key once, each rejected source once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from trackline.config import Settings
from trackline.contracts.kernel import REJECTED_SCHEMA
from trackline.contracts.spec import Contract
from trackline.engines.sinks.rejected import RejectedTable
from trackline.engines.sinks.warehouse import WarehouseTable
from trackline.warehouse.duckdb import DuckDBWarehouse

NOW = datetime(2026, 1, 2, tzinfo=UTC)
CONTRACT = Contract.model_validate(
    {
        "name": "notes",
        "version": 1,
        "primary_key": ["id"],
        "fields": {"id": {"type": "string", "required": True}, "n": {"type": "int64"}},
    }
)


def test_a_redelivered_batch_adds_nothing(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "home")
    settings.ensure_home()
    wh = DuckDBWarehouse(settings.warehouse, settings)
    try:
        table = WarehouseTable(wh, CONTRACT, run_id="stream-a", now=NOW)
        table.write(pa.table({"id": ["a", "b"], "n": [1, 2]}))
        table.write(pa.table({"id": ["b", "c"], "n": [20, 3]}))  # b again: left out
        assert table.inserted == 3
        rows = wh.con.execute("SELECT id, n, run_id FROM notes ORDER BY id").fetchall()
        assert rows == [("a", 1, "stream-a"), ("b", 2, "stream-a"), ("c", 3, "stream-a")]
        assert table.finish() == []

        rejected = RejectedTable(wh.con, run_id="stream-a", now=NOW)
        bad = pa.table(
            {
                "record": ["{", "x"],
                "reasons": [["malformed"], ["malformed"]],
                "detail": [None, None],
                "source_file": ["bus:t/1", "bus:t/2"],
                "source_line": pa.nulls(2, pa.int64()),
            },
            schema=REJECTED_SCHEMA,
        ).append_column("dataset", pa.array(["notes", "notes"]))
        rejected.write(bad)
        rejected.write(bad.slice(1))  # message 2 redelivered
        got = wh.con.execute(
            "SELECT dataset, source_file, rejected_at FROM meta.rejected ORDER BY 2"
        ).fetchall()
        assert got == [("notes", "bus:t/1", NOW), ("notes", "bus:t/2", NOW)]
    finally:
        wh.close()


def test_every_sink_follows_the_one_protocol(tmp_path: Path) -> None:
    from trackline.engines.sinks.base import Sink
    from trackline.engines.sinks.curated import CuratedSink
    from trackline.engines.sinks.rejected import RejectedRows
    from trackline.engines.sinks.repeats import Repeats
    from trackline.lake import Lake

    settings = Settings.load(home=tmp_path / "home")
    settings.ensure_home()
    lake = Lake(str(tmp_path / "lake"))
    wh = DuckDBWarehouse(settings.warehouse, settings)
    try:
        sinks = [
            RejectedRows(lake, lake.path("rejected", "part-0.parquet")),
            CuratedSink(lake, CONTRACT, run_id="r1", ingestion_time=NOW),
            WarehouseTable(wh, CONTRACT, run_id="r1", now=NOW),
            RejectedTable(wh.con, run_id="r1", now=NOW),
            Repeats(["id", "n", "_source_file", "_source_line"]),
        ]
        for sink in sinks:
            assert isinstance(sink, Sink), type(sink).__name__
            sink.abort()
    finally:
        wh.close()
