"""NATS-specific behaviour the shared contract suite cannot reach on demand."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.services import require
from trackline.bus.base import Outgoing, open_bus
from trackline.config import Settings


@pytest.mark.parametrize(
    "error", [asyncio.TimeoutError, "nats"], ids=["bare-asyncio-timeout", "nats-timeout"]
)
def test_a_fetch_that_times_out_either_way_is_an_empty_poll(
    tmp_path: Path, error: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """nats-py raises a bare asyncio.TimeoutError when its reply to the no-wait probe comes
    after the deadline (seen under CI load); that is an empty poll, not a broken server.
    The race cannot be forced on a local server, so the fetch of a real subscription is
    made to raise what nats-py raises in that case."""
    import nats.errors

    bus = open_bus(require("nats"), Settings.load(home=tmp_path / "home"))
    try:
        topic = f"t-{uuid.uuid4().hex[:10]}"  # the server keeps streams between runs
        bus.publish_batch(topic, [Outgoing(b"x")])
        assert [m.data for m in bus.consume(topic, "g", timeout=2.0)] == [b"x"]
        sub = bus._subs[(topic, "g")]  # type: ignore[attr-defined]
        exc = nats.errors.TimeoutError if error == "nats" else error

        async def late(*_: object, **__: object) -> list[Any]:
            raise exc

        monkeypatch.setattr(sub, "fetch", late)
        assert bus.consume(topic, "g", timeout=0.1) == []
    finally:
        bus.close()
