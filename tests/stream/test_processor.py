"""The stream processor in-process on the embedded log: routing, accounting, exactly once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.stream.helpers import assert_exactly_once, error_message_ids, raw_lines
from trackline.bus.base import Message, Outgoing, open_bus
from trackline.config import Settings
from trackline.contracts.loader import ContractRegistry
from trackline.core import duck
from trackline.runs.history import get_manifest, list_runs
from trackline.stream.consumer import StreamProcessor
from trackline.stream.events import EVENT_TYPES
from trackline.stream.publisher import publish_events
from trackline.stream.stats import Totals


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


def test_the_stream_run_is_recorded_like_a_batch_run(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    bus = open_bus(None, settings)
    publish_events(bus, "events", 2000, EVENT_TYPES, ContractRegistry(), invalid_share=0.1, seed=4)
    bus.publish_batch("events", [Outgoing(b'{"event_id": "x"}', {"event_type": "refunds"})])
    proc = StreamProcessor(settings, bus)
    run_id = proc.sink.run_id
    seen: list[tuple[str, int]] = []  # the record as each batch committed it
    process = proc.process

    def watched(batch: list[Message]) -> Totals:
        totals = process(batch)
        seen.append((proc.record.manifest.status, proc.record.manifest.counts.input))
        return totals

    proc.process = watched  # type: ignore[method-assign]
    proc.run(idle_exit=0.3)
    bus.close()
    s = proc.summary()
    assert len(seen) >= 2 and all(status == "running" for status, _ in seen)
    assert [n for _, n in seen] == sorted(n for _, n in seen) and seen[-1][1] == s["events"]

    manifest = get_manifest(settings, run_id)
    c = manifest.counts
    assert manifest.status == "done" and manifest.dataset == "events"
    assert (c.input, c.valid, c.rejected, c.duplicates) == (
        s["events"],
        s["valid"],
        s["rejected"],
        s["duplicates"],
    )
    assert c.input == c.valid + c.rejected + c.duplicates == 2001
    assert c.rejected_by_reason == s["rejected_by_reason"]
    assert c.rejected_by_reason["unknown_event_type"] == 1
    assert (Path(settings.lake) / "manifests" / f"{run_id}.json").is_file()
    con = duck.connect(settings.warehouse, read_only=True)
    try:
        rows = sum(
            con.execute(f"SELECT count(*) FROM {t} WHERE run_id = ?", [run_id]).fetchone()[0]
            for t in EVENT_TYPES
        )
    finally:
        con.close()
    assert rows == c.valid
    assert [r["run_id"] for r in list_runs(settings)] == [run_id]


def test_a_failing_stream_run_is_recorded_as_failed(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    bus = open_bus(None, settings)
    publish_events(bus, "events", 1400, ("orders",), ContractRegistry(), seed=5)
    proc = StreamProcessor(settings, bus)
    process = proc.process
    calls = 0

    def second_fails(batch: list[Message]) -> Totals:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("disk full")
        return process(batch)

    proc.process = second_fails  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        proc.run(idle_exit=0.3)
    bus.close()
    manifest = get_manifest(settings, proc.sink.run_id)
    assert manifest.status == "failed" and manifest.error == "RuntimeError: disk full"
    assert manifest.counts.input == manifest.counts.valid == 700  # the one committed batch
