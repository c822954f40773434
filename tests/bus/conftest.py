"""One bus contract suite, run against every backend that has a server here."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.services import require
from trackline.bus.base import Bus, open_bus
from trackline.config import Settings

BACKENDS = ["log", "redis", "nats", "pubsub", "kafka"]
OpenBus = Callable[..., Bus]


def _uri(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    if kind == "log":
        return f"log://{tmp_path / 'bus.db'}"
    if kind == "pubsub":
        # the emulator, as every Google client finds it; a project per test keeps tests apart
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", require("pubsub"))
        return f"pubsub://tl-{uuid.uuid4().hex[:12]}"
    if kind == "kafka":
        # a short session: a dead consumer's partitions move on (and a group forms) quickly
        return f"kafka://{require('kafka')}?session_timeout_ms=2000"
    return require(kind)


@pytest.fixture(params=BACKENDS)
def make_bus(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[OpenBus]:
    """Opens buses of one kind (several, to act as separate consumers); closes them after."""
    uri = _uri(request.param, tmp_path, monkeypatch)
    opened: list[Bus] = []

    def make(**settings: object) -> Bus:
        values: dict[str, object] = {
            "bus_ack_timeout_seconds": 1.0,
            "bus_max_attempts": 3,
            "bus_retry_seconds": 5.0,
            **settings,
        }
        bus = open_bus(uri, Settings.load(home=tmp_path / "home", **values))
        opened.append(bus)
        return bus

    yield make
    for bus in opened:
        with contextlib.suppress(Exception):
            bus.close()


@pytest.fixture
def topic() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"
