"""Events are CloudEvents 1.0 the `cloudevents` SDK parses, with stable ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cloudevents.core.formats.json import JSONFormat
from cloudevents.v1.http import from_json

from trackline.cdc import events
from trackline.cdc.events import Source
from trackline.cdc.snapshot import Change, diff, observe

NOW = datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)


def _changes() -> list[Change]:
    before = observe([{"id": 1, "date": "a", "products": []}, {"id": 2, "date": "b"}]).carts
    after = observe([{"id": 1, "date": "a2", "products": []}, {"id": 3, "date": "c"}]).carts
    return diff(None, before) + diff(before, after)


def test_every_op_parses_with_both_sdk_apis() -> None:
    for seq, change in enumerate(_changes(), start=1):
        event = events.build(Source(), change, seq, NOW)
        body = events.encode(event)
        v1 = from_json(body)
        assert v1["specversion"] == "1.0"
        assert v1["id"] == event["id"]
        assert v1["partitionkey"] == f"cart_{change.key}"
        assert v1["sequence"] == str(seq).zfill(20)
        assert v1.data["op"] == change.op
        core = JSONFormat().read(None, body)
        assert core.get_id() == event["id"]
        assert core.get_time() == NOW
        assert core.get_subject() == f"carts/{change.key}"
        assert core.get_extension("partitionkey") == f"cart_{change.key}"
        assert core.get_type() == f"trackline.cdc.carts.{events.OP_NAMES[change.op]}"
        data = core.get_data()
        assert isinstance(data, dict)
        assert data["source"]["snapshot"] == ("true" if change.op == "r" else "false")
        assert data["source"]["ts_ms"] == int(NOW.timestamp() * 1000)


def test_payload_before_and_after() -> None:
    by_op = {c.op: events.build(Source(), c, 1, NOW)["data"] for c in _changes()}
    assert by_op["r"]["before"] is None and by_op["r"]["after"]["id"] == 2  # the last r
    assert by_op["u"]["before"]["date"] == "a" and by_op["u"]["after"]["date"] == "a2"
    assert by_op["c"]["before"] is None and by_op["c"]["after"]["id"] == 3
    assert by_op["d"]["before"]["id"] == 2 and by_op["d"]["after"] is None


def test_ids_depend_on_the_change_not_on_time_or_sequence() -> None:
    changes = _changes()
    first = [events.build(Source(), c, i, NOW)["id"] for i, c in enumerate(changes)]
    later = NOW + timedelta(hours=3)
    again = [events.build(Source(), c, i + 100, later)["id"] for i, c in enumerate(changes)]
    assert first == again
    assert len(set(first)) == len(first)  # r, u, c, d of different carts differ
    other = [events.build(Source(name="shop2"), c, 1, NOW)["id"] for c in changes]
    assert set(other).isdisjoint(first)  # another source never collides


def test_sequence_is_zero_padded_so_text_order_is_numeric() -> None:
    seqs = [events.format_sequence(n) for n in (9, 10, 123456789)]
    assert seqs == sorted(seqs)
    assert all(len(s) == 20 for s in seqs)


def test_attributes_are_strings_for_any_bus() -> None:
    event = events.build(Source(), _changes()[0], 1, NOW)
    attrs = events.attributes(event)
    assert all(isinstance(v, str) for v in attrs.values())
    assert attrs["ce_id"] == event["id"] and attrs["op"] == "r"
    assert json.loads(events.encode(event)) == event
