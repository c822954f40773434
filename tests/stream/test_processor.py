"""The stream processor in-process on the embedded log: routing, accounting, exactly once."""

from __future__ import annotations

import json
from pathlib import Path

from tests.stream.helpers import assert_exactly_once, error_message_ids, raw_lines
from trackline.bus.base import Message, Outgoing, open_bus
from trackline.config import Settings
from trackline.contracts.loader import ContractRegistry
from trackline.core import duck
from trackline.stream.consumer import StreamProcessor, Totals
from trackline.stream.events import EVENT_TYPES
from trackline.stream.publisher import publish_events


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings.load(home=tmp_path / "home", stream_batch_size=700, **kw)


def test_every_event_lands_once_with_its_reasons(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    bus = open_bus(None, settings)
    result = publish_events(
        bus, "events", 3000, EVENT_TYPES, ContractRegistry(), invalid_share=0.1, seed=3, keep=True
    )
    odd = bus.publish_batch(
        "events",
        [
            Outgoing(b'{"event_id": "x"}', {"event_type": "refunds"}),
            Outgoing(b'{"event_id": "y"}'),
            Outgoing(b"\xff\xfe not utf-8", {"event_type": "orders"}),
        ],
    )
    proc = StreamProcessor(settings, bus)
    stats = proc.run(idle_exit=0.3)
    bus.close()
    lake = Path(settings.lake)
    assert_exactly_once(settings.warehouse, lake, result)
    s = proc.summary()
    assert s["events"] == 3003 == s["valid"] + s["rejected"] + s["duplicates"]
    assert s["duplicates"] == result.by_kind["duplicate"]
    assert s["by_type"]["unknown"]["rejected"] == 2
    assert stats.reasons["unknown_event_type"] == 2 and stats.reasons["malformed"] >= 1
    assert set(odd) <= error_message_ids(lake)
    assert raw_lines(lake) == 3003
    lines = [
        json.loads(line)
        for f in (lake / "raw" / "errors" / "unknown").rglob("*.ndjson")
        for line in f.read_text().splitlines()
    ]
    assert {d["detail"] for d in lines} == {
        f"event_type 'refunds' is not one of {', '.join(EVENT_TYPES)}",
        f"no event_type attribute ({', '.join(EVENT_TYPES)})",
    }
    layout = next((lake / "raw" / "orders").rglob("*.ndjson")).relative_to(lake)
    assert len(layout.parts) == 8 and layout.name.startswith("orders-")  # raw/orders/Y/M/D/H/m/f
    con = duck.connect(settings.warehouse, read_only=True)
    try:
        n = con.execute(
            "SELECT count(*) FROM meta.rejected WHERE run_id LIKE 'stream-%'"
        ).fetchone()
        assert n is not None and n[0] == s["rejected"]
        row = con.execute("SELECT min(ingestion_time) IS NOT NULL FROM orders").fetchone()
        assert row == (True,)
    finally:
        con.close()


def test_a_redelivered_batch_adds_nothing(tmp_path: Path) -> None:
    settings = _settings(tmp_path, bus_ack_timeout_seconds=60.0)
    bus = open_bus(None, settings)
    result = publish_events(bus, "events", 500, EVENT_TYPES, ContractRegistry(), seed=1, keep=True)
    proc = StreamProcessor(settings, bus)
    batch = bus.consume("events", proc.group, 1000, timeout=1)
    first = proc.process(batch)
    # The same payloads again, as a producer retry or a redelivery after a lost ack brings them
    bus.publish_batch("events", [Outgoing(m.data, m.attributes, m.ordering_key) for m in batch])
    second = proc.process(bus.consume("events", proc.group, 1000, timeout=1))
    proc.sink.release()
    bus.close()
    assert first.valid == 500 and second.valid == 0 and second.duplicates == 500
    assert_exactly_once(settings.warehouse, Path(settings.lake), result)


def test_the_warehouse_is_free_for_readers_while_idle(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    bus = open_bus(None, settings)
    publish_events(bus, "events", 50, ("orders",), ContractRegistry(), seed=2)
    proc = StreamProcessor(settings, bus)
    proc.process(bus.consume("events", proc.group, 100, timeout=1))
    proc.run(idle_exit=0.2)  # goes idle, releases the file
    con = duck.connect(settings.warehouse, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM orders").fetchone() == (50,)
    finally:
        con.close()
        bus.close()


def test_a_stop_finishes_what_was_taken_and_leaves_nothing_leased(tmp_path: Path) -> None:
    # a long ack timeout: anything taken and not acked would stay invisible, and be missed below
    settings = _settings(tmp_path, bus_ack_timeout_seconds=600.0)
    bus = open_bus(None, settings)
    publish_events(bus, "events", 5000, EVENT_TYPES, ContractRegistry(), seed=4)
    proc = StreamProcessor(settings, bus)
    process = proc.process

    def stop_after_first(batch: list[Message]) -> Totals:
        totals = process(batch)
        proc.stop.set()  # as SIGTERM does, while the next batch is being taken
        return totals

    proc.process = stop_after_first  # type: ignore[method-assign]
    stats = proc.run()
    assert 700 <= stats.totals.events < 5000  # stopped early
    rest = bus.consume("events", proc.group, 10_000, timeout=0.5)
    bus.close()
    # every message is either done or still available at once, first delivery: none in limbo
    assert stats.totals.events + len(rest) == 5000
    assert all(m.delivery_attempt == 1 for m in rest)
    con = duck.connect(settings.warehouse, read_only=True)
    try:
        rows = sum(int(con.sql(f"SELECT count(*) FROM {t}").fetchall()[0][0]) for t in EVENT_TYPES)
    finally:
        con.close()
    assert rows == stats.totals.valid
