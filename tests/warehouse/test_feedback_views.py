"""Per-session feedback aggregates: from the batch engine and from the bus via the stream."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from trackline.bus.base import Outgoing, open_bus
from trackline.config import Settings
from trackline.engines.local import LocalEngine
from trackline.generate import generator
from trackline.stream.consumer import StreamProcessor
from trackline.warehouse.base import open_warehouse
from trackline.warehouse.views import session_feedback


def _feedback(settings: Settings, session_id: str) -> dict[str, object]:
    wh = open_warehouse(settings, read_only=True)
    try:
        return session_feedback(wh, session_id)
    finally:
        wh.close()


def test_batch_ingested_feedback_is_aggregated_per_track_and_member(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "home")
    path = tmp_path / "feedback.ndjson"
    generator.write("feedback", 400, path, seed=3)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    sid = Counter(r["session_id"] for r in rows).most_common(1)[0][0]
    mine = [r for r in rows if r["session_id"] == sid]
    LocalEngine(settings).ingest([str(path)], "feedback")

    found = _feedback(settings, sid)
    by_track = {r["track_id"]: r for r in found["by_track"]}  # type: ignore[attr-defined]
    for track in {r["track_id"] for r in mine}:
        actions = Counter(
            r["action"].strip().lower() for r in mine if r["track_id"] == track
        )  # the contract normalises case and spaces
        got = by_track[track]
        assert (got["likes"], got["skips"], got["dislikes"]) == (
            actions["like"],
            actions["skip"],
            actions["dislike"],
        )
    by_member = {r["user_id"]: r for r in found["by_member"]}  # type: ignore[attr-defined]
    assert set(by_member) == {r["user_id"] for r in mine}
    assert found["totals"]["events"] == len(mine)  # type: ignore[index]
    other = _feedback(settings, "no-such-session")
    assert other["totals"] == {"likes": 0, "skips": 0, "dislikes": 0, "events": 0}


def test_streamed_feedback_is_queryable_once_the_batch_commits(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "home", stream_batch_seconds=0.1)
    now = datetime.now(UTC) - timedelta(minutes=1)

    def event(n: int, user: str, track: str, action: str) -> Outgoing:
        body = {
            "event_id": f"e{n}",
            "session_id": "s1",
            "user_id": user,
            "track_id": track,
            "action": action,
            "timestamp": (now + timedelta(seconds=n)).isoformat(),
        }
        return Outgoing(json.dumps(body).encode(), {"event_type": "feedback"}, "s1")

    events = [
        event(1, "ana", "t1", "like"),
        event(2, "ben", "t1", "like"),
        event(3, "ana", "t2", "skip"),
        event(4, "ben", "t2", "dislike"),
        event(5, "ben", "t2", "shrug"),  # not an action: rejected with its reason
        event(1, "ana", "t1", "like"),  # a redelivery of e1: counted once
    ]
    bus = open_bus(None, settings)
    try:
        bus.publish_batch("feedback", events)
        proc = StreamProcessor(settings, bus, topic="feedback")
        proc.run(idle_exit=0.5)
        summary = proc.summary()
    finally:
        bus.close()
    assert (summary["valid"], summary["rejected"], summary["duplicates"]) == (4, 1, 1)
    found = _feedback(settings, "s1")
    assert found["totals"] == {"likes": 2, "skips": 1, "dislikes": 1, "events": 4}
    tracks = {r["track_id"]: (r["likes"], r["skips"], r["dislikes"], r["members"])
              for r in found["by_track"]}  # type: ignore[attr-defined]  # fmt: skip
    assert tracks == {"t1": (2, 0, 0, 2), "t2": (0, 1, 1, 2)}
    members = {r["user_id"]: (r["likes"], r["skips"], r["dislikes"])
               for r in found["by_member"]}  # type: ignore[attr-defined]  # fmt: skip
    assert members == {"ana": (1, 1, 0), "ben": (1, 0, 1)}
