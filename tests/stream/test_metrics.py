"""The stream records its own metrics, one row per micro-batch, in the batch's transaction."""

from __future__ import annotations

from pathlib import Path

from trackline.bus.base import open_bus
from trackline.config import Settings
from trackline.contracts.loader import ContractRegistry
from trackline.core import duck
from trackline.stream.consumer import StreamProcessor
from trackline.stream.events import EVENT_TYPES
from trackline.stream.publisher import publish_events


def test_one_metrics_row_per_batch_adding_up_to_the_run(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "home", stream_batch_size=300)
    bus = open_bus(None, settings)
    publish_events(bus, "events", 1500, EVENT_TYPES, ContractRegistry(), invalid_share=0.1, seed=5)
    proc = StreamProcessor(settings, bus)
    stats = proc.run(idle_exit=0.3)
    bus.close()
    con = duck.connect(settings.warehouse, read_only=True)
    try:
        rows = con.execute(
            "SELECT run_id, topic, events, valid, rejected, duplicates, seconds, lag, p50_ms, "
            "p99_ms FROM meta.stream_metrics ORDER BY committed_at"
        ).fetchall()
    finally:
        con.close()
    assert len(rows) == stats.batches >= 5
    assert {r[0] for r in rows} == {proc.sink.run_id} and {r[1] for r in rows} == {"events"}
    t = stats.totals
    assert [sum(r[i] for r in rows) for i in (2, 3, 4, 5)] == [
        t.events,
        t.valid,
        t.rejected,
        t.duplicates,
    ]
    assert all(r[2] == r[3] + r[4] + r[5] for r in rows)  # each batch adds up
    assert all(r[6] > 0 and r[7] is not None and 0 <= r[8] <= r[9] for r in rows)
