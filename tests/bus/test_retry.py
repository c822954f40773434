"""A bus call waits out a server that is away (a restart), then gives up with a clear error.

Against the real Redis: the bus talks to it through a TCP relay that starts listening only
after a while, as a restarted server would."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.services import require
from trackline.bus.base import BusError, open_bus
from trackline.config import Settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def late_relay(port: int, target: tuple[str, int], after: float) -> Iterator[None]:
    """Listen on `port` only `after` seconds from now; relay each connection to `target`."""
    stop = threading.Event()

    def serve() -> None:
        if stop.wait(after):
            return
        with socket.socket() as server:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", port))
            server.listen()
            server.settimeout(0.1)
            while not stop.is_set():
                try:
                    client, _ = server.accept()
                except TimeoutError:
                    continue
                upstream = socket.create_connection(target)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def _redis_settings(tmp_path: Path, retry_seconds: float) -> Settings:
    return Settings.load(home=tmp_path / "home", bus_retry_seconds=retry_seconds)


def test_a_publish_waits_for_the_server_to_come_back(tmp_path: Path) -> None:
    real = urlsplit(require("redis"))
    port = _free_port()
    topic = f"t-{uuid.uuid4().hex[:10]}"
    bus = open_bus(f"redis://127.0.0.1:{port}/0", _redis_settings(tmp_path, 10.0))
    try:
        with late_relay(port, (real.hostname or "127.0.0.1", real.port or 6379), after=0.6):
            start = time.monotonic()
            bus.publish(topic, b"after the restart")
            waited = time.monotonic() - start
            got = bus.consume(topic, "g", 10, timeout=2.0)
        assert waited >= 0.6
        assert [m.data for m in got] == [b"after the restart"]
        bus.delete_group(topic, "g")
    finally:
        bus.close()


def test_a_server_that_stays_away_fails_at_the_deadline(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    require("redis")  # the client library, and a server to say what "away" means
    port = _free_port()
    uri = f"redis://:s3cret-pass@127.0.0.1:{port}/0"
    bus = open_bus(uri, _redis_settings(tmp_path, 0.8))
    try:
        start = time.monotonic()
        with pytest.raises(BusError, match=r"failed for 1s.*bus server is running"):
            bus.publish("events", b"x")
        elapsed = time.monotonic() - start
    finally:
        bus.close()
    assert 0.8 <= elapsed < 0.8 + 0.5
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("bus.retry")]
    assert len(retries) >= 3 and all("attempt=" in line for line in retries)
    assert "s3cret-pass" not in caplog.text
