"""Pull mode over `pubsub://` (the emulator): sessions announced before any worker exists are
kept for the `workers` group (the `sessions` topic is born with its subscription) and run."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.services import require
from trackline import sessions
from trackline.bus.base import open_bus
from trackline.config import Settings
from trackline.pipelines.generated import GeneratedPipeline
from trackline.sessions.pull import pull_loop
from trackline.state import open_state


def test_sessions_announced_before_the_worker_starts_are_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", require("pubsub"))
    settings = Settings.load(
        home=tmp_path / "home",
        bus_uri=f"pubsub://tl-{uuid.uuid4().hex[:12]}",
        bus_retry_seconds=5.0,
    )
    store = open_state(settings)
    try:
        store.add_user("ana")
        # announced through the configured bus on creation, no worker listening yet
        ids = [sessions.create_session(settings, store, ["ana"]).session_id for _ in range(2)]
        bus = open_bus(None, settings)
        try:
            summary = pull_loop(
                settings, store, bus, "puller",
                pipeline=GeneratedPipeline(settings, count=20),
                max_sessions=2, idle_exit=20, poll_seconds=0.5,
            )  # fmt: skip
        finally:
            bus.close()
        assert summary.ran == 2 and summary.results == {"done": 2}
        for sid in ids:
            found = store.get_session(sid)
            assert found is not None and found.status == "done" and found.worker_id == "puller"
    finally:
        store.close()
