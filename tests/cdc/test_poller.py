"""The poll loop against the fake Fake Store over HTTP, a real SQLite state store and a real
NDJSON publisher: cold start, a scripted sequence of changes made through the API's own write
endpoints, dead letters and their replay, ids stable across independent runs."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from cloudevents.core.formats.json import JSONFormat

from tests.cdc.conftest import Carts, NdjsonPublisher, make_cdc
from trackline.cdc import dead_letter_path
from trackline.cdc.events import Source
from trackline.config import Settings
from trackline.core.http import HttpClient
from trackline.fakeapi import FakeAPI
from trackline.state import StateStore, open_state


def _ops(events: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(e["data"]["op"], e["subject"]) for e in events]  # type: ignore[index]


def test_cold_start_reads_every_cart_once(
    fake: FakeAPI, http: HttpClient, state: StateStore, settings: Settings,
    publisher: NdjsonPublisher,
) -> None:  # fmt: skip
    cdc = make_cdc(fake, http, state, settings, publisher)
    first = cdc.poll()
    assert first.cold_start and first.received == first.carts == 7
    events = publisher.events()
    assert _ops(events) == [("r", f"carts/{i}") for i in range(1, 8)]
    for e in events:
        assert e["data"]["after"]["id"] == int(e["subject"].split("/")[1])
        assert e["data"]["after"]["date"] == fake.fakestore.carts[e["data"]["after"]["id"]]["date"]
    assert [e["sequence"] for e in events] == [str(i).zfill(20) for i in range(1, 8)]
    keys = [m["key"] for m in publisher.messages()]
    assert keys == [e["partitionkey"] for e in events] == [f"cart_{i}" for i in range(1, 8)]
    second = cdc.poll()  # nothing changed: nothing emitted
    assert not second.cold_start and second.events == 0
    assert len(publisher.events()) == 7


def test_scripted_changes_through_the_api(
    fake: FakeAPI, http: HttpClient, state: StateStore, settings: Settings,
    publisher: NdjsonPublisher,
) -> None:  # fmt: skip
    carts = Carts(fake)
    cdc = make_cdc(fake, http, state, settings, publisher)
    cdc.poll()
    n = len(publisher.events())

    def step() -> list[tuple[object, object]]:
        nonlocal n
        cdc.poll()
        new = publisher.events()[n:]
        n += len(new)
        return _ops(new)

    new_id = carts.create(2, [{"productId": 3, "quantity": 1}], "2024-01-01T00:00:00.000Z")
    assert step() == [("c", f"carts/{new_id}")]
    carts.update(
        new_id, date="2024-01-02T00:00:00.000Z", products=[{"productId": 3, "quantity": 1}]
    )
    assert step() == [("u", f"carts/{new_id}")]
    carts.update(
        new_id, date="2024-01-02T00:00:00.000Z", products=[{"productId": 3, "quantity": 5}]
    )
    assert step() == [("u", f"carts/{new_id}")]
    two = carts.get(2)["products"]
    carts.update(2, date=carts.get(2)["date"], products=list(reversed(two)))  # order only
    assert step() == []
    carts.delete(4)
    assert step() == [("d", "carts/4")]
    assert step() == []  # no-op poll
    carts.update(1, date="2024-02-01T00:00:00.000Z", products=carts.get(1)["products"])
    other = carts.create(5, [{"productId": 1, "quantity": 2}], "2024-02-02T00:00:00.000Z")
    carts.delete(new_id)
    assert step() == [("u", "carts/1"), ("d", f"carts/{new_id}"), ("c", f"carts/{other}")]

    events = publisher.events()
    update = [e for e in events if e["data"]["op"] == "u"][1]
    assert update["data"]["before"]["products"] == [{"productId": 3, "quantity": 1}]
    assert update["data"]["after"]["products"] == [{"productId": 3, "quantity": 5}]
    deleted = next(e for e in events if e["data"]["op"] == "d")
    assert deleted["data"]["before"]["id"] == 4 and deleted["data"]["after"] is None
    seqs = [e["sequence"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert len({e["id"] for e in events}) == len(events)
    fmt = JSONFormat()
    for m in publisher.messages():
        assert fmt.read(None, m["data"].encode()).get_id() == m["attributes"]["ce_id"]


def test_ids_are_stable_across_independent_runs(
    fake: FakeAPI, http: HttpClient, tmp_path: Path
) -> None:
    """Two pollers with their own homes, state and bus see the same changes: same ids."""
    pollers = []
    for name in ("a", "b"):
        settings = Settings.load(home=tmp_path / name)
        publisher = NdjsonPublisher(tmp_path / f"bus-{name}")
        pollers.append((make_cdc(fake, http, open_state(settings), settings, publisher), publisher))
    for cdc, _ in pollers:
        cdc.poll()
    Carts(fake).update(3, date="2030-01-01T00:00:00.000Z", products=[])
    Carts(fake).delete(5)
    for cdc, _ in pollers:
        cdc.poll()
        cdc.store.state.close()
    a, b = ([(e["id"], e["data"]["op"]) for e in pub.events()] for _, pub in pollers)
    assert a == b
    assert [op for _, op in a] == ["r"] * 7 + ["u", "d"]
    assert len(set(a)) == 9


def test_failed_publish_is_dead_lettered_then_replayed_first(
    fake: FakeAPI, http: HttpClient, state: StateStore, settings: Settings,
    publisher: NdjsonPublisher,
) -> None:  # fmt: skip
    carts = Carts(fake)
    cdc = make_cdc(fake, http, state, settings, publisher)
    path = dead_letter_path(settings.home, Source())
    publisher.refuse = {"cart_2"}
    first = cdc.poll()
    assert (first.published, first.dead_lettered, first.dead_letters_left) == (6, 1, 1)
    letters = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["ordering_key"] for x in letters] == ["cart_2"]
    assert "bus refused cart_2" in letters[0]["error"]
    dead_id = letters[0]["event"]["id"]

    # still refused: cart 2's newer change waits behind the dead letter, others flow
    carts.update(2, date="2031-01-01T00:00:00.000Z", products=[{"productId": 9, "quantity": 1}])
    carts.update(5, date="2031-01-01T00:00:00.000Z", products=[])
    second = cdc.poll()
    assert (second.replayed, second.published, second.dead_lettered) == (0, 1, 1)
    letters = [json.loads(x) for x in path.read_text().splitlines()]
    assert [(x["event"]["data"]["op"], x["attempts"]) for x in letters] == [("r", 2), ("u", 1)]
    assert "held back" in letters[1]["error"]

    # the bus is back: replay (in order) before the new changes of this poll
    publisher.refuse = set()
    carts.delete(6)
    third = cdc.poll()
    assert (third.replayed, third.published, third.dead_letters_left) == (2, 1, 0)
    assert not path.exists()
    tail = publisher.events()[-3:]
    assert _ops(tail) == [("r", "carts/2"), ("u", "carts/2"), ("d", "carts/6")]
    assert tail[0]["id"] == dead_id  # the replayed event is the same event
    seen = [e["id"] for e in publisher.events()]
    assert len(seen) == len(set(seen)) == 7 + 1 + 1 + 1  # nothing lost, nothing doubled
    assert cdc.poll().events == 0


def test_everything_refused_still_advances_only_through_the_dead_letter_file(
    fake: FakeAPI, http: HttpClient, state: StateStore, settings: Settings,
    publisher: NdjsonPublisher,
) -> None:  # fmt: skip
    cdc = make_cdc(fake, http, state, settings, publisher)
    publisher.refuse = {"*"}
    assert cdc.poll().dead_lettered == 7
    assert cdc.poll().dead_letters_left == 7  # replay failed again; no new events
    publisher.refuse = set()
    result = cdc.poll()
    assert result.replayed == 7 and result.events == 0
    assert _ops(publisher.events()) == [("r", f"carts/{i}") for i in range(1, 8)]


def test_run_stops_after_the_current_poll(
    fake: FakeAPI, http: HttpClient, state: StateStore, settings: Settings,
    publisher: NdjsonPublisher,
) -> None:  # fmt: skip
    cdc = make_cdc(fake, http, state, settings, publisher)
    stop = threading.Event()
    results = []

    def on_result(r: object) -> None:
        results.append(r)
        stop.set()  # as a signal handler would, in the middle of the loop

    assert cdc.run(interval=3600, once=False, stop=stop, on_result=on_result) == 1
    assert len(results) == 1 and len(publisher.events()) == 7


def test_a_crash_before_the_snapshot_is_saved_re_emits_the_same_ids(
    fake: FakeAPI, http: HttpClient, state: StateStore, settings: Settings, tmp_path: Path
) -> None:
    class DiesOnThird(NdjsonPublisher):
        def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None,
                    ordering_key: str | None = None) -> str:  # fmt: skip
            if ordering_key == "cart_3":
                raise KeyboardInterrupt  # the process is interrupted mid-poll
            return super().publish(topic, data, attributes, ordering_key)

    dying = DiesOnThird(tmp_path / "bus")
    with pytest.raises(KeyboardInterrupt):
        make_cdc(fake, http, state, settings, dying).poll()
    publisher_ids = [e["id"] for e in dying.events()]
    assert len(publisher_ids) == 2
    healthy = NdjsonPublisher(tmp_path / "bus")
    result = make_cdc(fake, http, state, settings, healthy).poll()
    assert result.cold_start and result.events == 7  # the snapshot never advanced
    ids = [e["id"] for e in healthy.events()]
    assert ids[:2] == ids[2:4] == publisher_ids  # cart 1 and 2 twice, with the same ids
    seqs = [e["sequence"] for e in healthy.events()]
    assert seqs[2] > seqs[1]  # the reserved numbers are never reused
