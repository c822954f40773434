"""Announcing sessions on the embedded log bus, finding lost ones, and pull mode."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from trackline import sessions
from trackline.bus.base import open_bus
from trackline.config import Settings
from trackline.pipelines.generated import GeneratedPipeline
from trackline.sessions import trigger
from trackline.sessions.pull import pull_loop
from trackline.state import StateStore


def _drain(settings: Settings, group: str = "test") -> list[dict[str, object]]:
    bus = open_bus(None, settings)
    try:
        msgs = bus.consume("sessions", group, max_messages=100, timeout=0.2)
        bus.ack("sessions", group, msgs)
        return [json.loads(m.data) for m in msgs]
    finally:
        bus.close()


def test_creating_a_session_publishes_its_id(settings: Settings, store: StateStore) -> None:
    store.add_user("ana")
    s = sessions.create_session(settings, store, ["ana"])
    assert _drain(settings) == [{"session_id": s.session_id}]
    doc = store.get_doc(trigger.ANNOUNCEMENTS, s.session_id)
    assert doc is not None and doc["count"] == 1


def test_a_session_created_while_the_bus_is_down_is_triggered_later(
    settings: Settings, store: StateStore, tmp_path: Path
) -> None:
    store.add_user("ana")
    down = settings.model_copy(update={"bus_uri": "nosuch://x"})
    s = sessions.create_session(down, store, ["ana"])  # created anyway, not announced
    assert store.get_session(s.session_id) is not None
    assert _drain(settings) == []
    bus = open_bus(None, settings)
    try:
        published = trigger.trigger(store, bus, after_seconds=60)
    finally:
        bus.close()
    assert [(p["session_id"], p["reason"]) for p in published] == [
        (s.session_id, "never announced")
    ]
    assert _drain(settings) == [{"session_id": s.session_id}]


def test_trigger_finds_stuck_pending_and_expired_leases_only(
    settings: Settings, store: StateStore
) -> None:
    store.add_user("ana")
    fresh = sessions.create_session(settings, store, ["ana"]).session_id
    stuck = sessions.create_session(settings, store, ["ana"]).session_id
    crashed = sessions.create_session(settings, store, ["ana"]).session_id
    alive = sessions.create_session(settings, store, ["ana"]).session_id
    assert store.claim_session(crashed, "dead", 0.01)
    assert store.claim_session(alive, "busy", 600)
    old = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    store.put_doc(trigger.ANNOUNCEMENTS, stuck, {"published_at": old, "count": 1})
    _drain(settings)
    later = datetime.now(UTC) + timedelta(seconds=1)  # past the 0.01 s lease, not the 600 s one
    lost = {x.session_id: x.reason for x in trigger.find_lost(store, 60, now=later)}
    assert set(lost) == {stuck, crashed}
    assert "still pending" in lost[stuck] and "lease of worker dead" in lost[crashed]
    assert fresh not in lost and alive not in lost


def test_pull_mode_runs_announced_sessions_and_acks_them(
    settings: Settings, store: StateStore
) -> None:
    for u in ("ana", "ben"):
        store.add_user(u)
    bus = open_bus(None, settings)
    bus.publish("sessions", b'{"nonsense": 1}')  # nacked, never crashes the loop
    ids = [sessions.create_session(settings, store, ["ana", "ben"]).session_id for _ in range(3)]
    try:
        summary = pull_loop(
            settings,
            store,
            bus,
            "puller",
            pipeline=GeneratedPipeline(settings, count=20),
            max_sessions=3,
            poll_seconds=0.2,
        )
    finally:
        bus.close()
    assert summary.ran == 3 and summary.results == {"done": 3}
    assert summary.nacked >= 1
    for sid in ids:
        found = store.get_session(sid)
        assert found is not None and found.status == "done" and found.worker_id == "puller"


def test_idle_exit_counts_from_the_end_of_the_last_session(
    settings: Settings, store: StateStore
) -> None:
    store.add_user("ana")
    ids = [sessions.create_session(settings, store, ["ana"]).session_id for _ in range(2)]
    slow = GeneratedPipeline(settings, count=10, delay_seconds=0.6)  # longer than idle_exit
    bus = open_bus(None, settings)
    try:
        summary = pull_loop(
            settings, store, bus, "p", pipeline=slow, idle_exit=0.4, poll_seconds=0.1
        )
    finally:
        bus.close()
    assert summary.ran == 2
    assert all(store.get_session(i).status == "done" for i in ids)  # type: ignore[union-attr]
