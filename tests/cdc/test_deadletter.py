"""The dead-letter file: round trip, a torn line set aside (not dropped), an empty file removed."""

from __future__ import annotations

from pathlib import Path

from trackline.cdc import DeadLetters, Letter


def _letter(key: str) -> Letter:
    event = {"id": key, "data": {"op": "c"}}
    return Letter("cdc.carts", key, {"op": "c"}, event, "refused", "2024-01-01T00:00:00.000Z")


def test_round_trip_and_replace(tmp_path: Path) -> None:
    dl = DeadLetters(tmp_path / "cdc" / "x.deadletter.ndjson")
    assert dl.read() == []
    dl.append([_letter("cart_1"), _letter("cart_2")])
    dl.append([_letter("cart_3")])
    assert [x.ordering_key for x in dl.read()] == ["cart_1", "cart_2", "cart_3"]
    dl.replace([_letter("cart_2")])
    assert [x.event["id"] for x in dl.read()] == ["cart_2"]
    dl.replace([])
    assert not dl.path.exists()


def test_a_torn_line_is_moved_aside(tmp_path: Path) -> None:
    dl = DeadLetters(tmp_path / "x.deadletter.ndjson")
    dl.append([_letter("cart_1")])
    with dl.path.open("a") as fh:
        fh.write('{"topic": "cdc.carts", "ordering_key": "cart_2", "ev')  # a crash mid-write
    assert [x.ordering_key for x in dl.read()] == ["cart_1"]
    aside = tmp_path / "x.deadletter.ndjson.corrupt"
    assert '"cart_2"' in aside.read_text()
    assert len(dl.path.read_text().splitlines()) == 1  # the file now holds only good lines
