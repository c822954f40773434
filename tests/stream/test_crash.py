"""Crash and outage tests: `kill -9` of the processor at random moments, a Redis restart.

Each run checks the promise of design.md 3.3: every valid event in the warehouse exactly once,
every invalid one in raw/errors, none lost.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import require
from tests.stream.helpers import assert_exactly_once
from trackline.bus.base import open_bus
from trackline.config import Settings
from trackline.contracts.loader import ContractRegistry
from trackline.stream.events import EVENT_TYPES
from trackline.stream.publisher import publish_events

EVENTS = 100_000  # the issue asks for a run of 100k events


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLINE_")}
    env.update(
        TRACKLINE_HOME=str(home),
        TRACKLINE_BUS_ACK_TIMEOUT_SECONDS="1",
        TRACKLINE_STREAM_BATCH_SIZE="2000",
        TRACKLINE_STREAM_BATCH_SECONDS="0.2",
        **extra,
    )
    return env


def _stream(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "trackline", "-q", "stream", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_9_at_random_points_loses_and_doubles_nothing(tmp_path: Path, seed: int) -> None:
    home = tmp_path / "home"
    settings = Settings.load(home=home)
    bus = open_bus(None, settings)
    published = publish_events(
        bus,
        "events",
        EVENTS,
        EVENT_TYPES,
        ContractRegistry(),
        invalid_share=0.05,
        seed=seed,
        keep=True,
        batch=5000,
    )
    bus.close()
    env = _env(home)
    rng = random.Random(seed)
    for _ in range(2):
        proc = _stream(env)
        time.sleep(rng.uniform(0.8, 2.2))  # start-up takes ~1 s: kills land mid-batch
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    final = _stream(env, "--idle-exit", "1")
    _, err = final.communicate(timeout=240)
    assert final.returncode == 0, err.decode()
    assert_exactly_once(settings.warehouse, Path(settings.lake), published)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A private redis-server with fsync'd AOF, so a restart keeps every acked write."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self.dir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    require("redis")  # the shared server shows the package is there; we run our own
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not on PATH")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.mark.slow
def test_a_redis_restart_mid_run_loses_nothing(tmp_path: Path, redis_server: RedisServer) -> None:
    uri = f"redis://127.0.0.1:{redis_server.port}/0"
    home = tmp_path / "home"
    settings = Settings.load(home=home, bus_retry_seconds=30.0)
    env = _env(home, TRACKLINE_BUS_URI=uri)
    consumer = _stream(env, "--idle-exit", "3")
    bus = open_bus(uri, settings)
    result: dict[str, object] = {}

    def produce() -> None:
        result["published"] = publish_events(
            bus,
            "events",
            6000,
            EVENT_TYPES,
            ContractRegistry(),
            invalid_share=0.05,
            seed=9,
            rate=2000,
            keep=True,
        )

    producer = threading.Thread(target=produce)
    producer.start()
    time.sleep(1.5)
    redis_server.kill()  # SIGKILL: only what the AOF fsync'd survives
    time.sleep(1.0)
    redis_server.start()
    producer.join(timeout=120)
    bus.close()
    _, err = consumer.communicate(timeout=120)
    assert consumer.returncode == 0, err.decode()
    published = result["published"]
    assert_exactly_once(settings.warehouse, Path(settings.lake), published)  # type: ignore[arg-type]
