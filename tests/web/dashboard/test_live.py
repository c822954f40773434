"""Live beside a stream: while `trackline stream` loads, `trackline query` answers and the
dashboard's stream page shows the new batches (the stream lets the DuckDB file go after every
micro-batch commit; readers wait for it a bounded time)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import serve_app

DEADLINE = 300.0  # seconds; a loaded machine is slow, the stream keeps going meanwhile


def cli(home: Path, *args: str, wait: bool = True) -> Any:
    env = {
        **os.environ,
        "TRACKLINE_HOME": str(home),
        "TRACKLINE_STREAM_BATCH_SIZE": "400",
        "TRACKLINE_STREAM_BATCH_SECONDS": "0.2",
    }
    cmd = [sys.executable, "-m", "trackline", "-q", *args]
    if not wait:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def publish_until(home: Path, stop: threading.Event) -> None:
    """Keep events coming (100 every 0.1 s) until told to stop: the stream stays busy as long
    as the test reads, however slow the machine."""
    from trackline.bus.base import open_bus
    from trackline.config import Settings
    from trackline.contracts.loader import ContractRegistry
    from trackline.stream.publisher import publish_events

    settings = Settings.load(home=home)
    bus = open_bus(None, settings)
    registry = ContractRegistry()
    try:
        seed = 0
        while not stop.is_set():
            seed += 1
            publish_events(bus, "events", 100, ["listening_events"], registry, seed=seed)
            stop.wait(0.1)
    finally:
        bus.close()


@pytest.fixture
def streaming(tmp_path: Path) -> Iterator[tuple[Path, Any]]:
    """A stream loading events published at a steady rate until the test is done."""
    home = tmp_path / "home"
    home.mkdir()
    assert cli(home, "publish", "--count", "1").returncode == 0  # the topic and the bus file
    stream = cli(home, "stream", "--idle-exit", "2", wait=False)
    stop = threading.Event()
    publisher = threading.Thread(target=publish_until, args=(home, stop), daemon=True)
    publisher.start()
    try:
        deadline = time.monotonic() + 120
        while not (home / "warehouse.duckdb").exists():
            assert time.monotonic() < deadline and stream.poll() is None, stream.stderr.read()
            time.sleep(0.1)
        yield home, stream
    finally:
        stop.set()
        publisher.join(timeout=30)
        try:
            stream.wait(timeout=120)
        except subprocess.TimeoutExpired:
            stream.kill()
            stream.wait()
    assert stream.returncode == 0, stream.stderr.read()


def count(home: Path) -> int:
    r = cli(home, "query", "SELECT coalesce(sum(events), 0) AS n FROM meta.stream_metrics",
            "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    return int(re.findall(r'"n":\s*(\d+)', r.stdout)[0])


def test_query_answers_while_the_stream_loads(streaming: tuple[Path, Any]) -> None:
    home, stream = streaming
    during: list[int] = []  # counts read while the stream process was still running
    deadline = time.monotonic() + DEADLINE
    while len(set(during)) < 3 and time.monotonic() < deadline:
        n = count(home)  # every call exits 0: never refused by the stream's lock
        assert stream.poll() is None, "the stream stopped while events kept coming"
        during.append(n)
    assert len(set(during)) >= 3, during
    assert during == sorted(during)


def test_stream_page_shows_new_batches(streaming: tuple[Path, Any], browser: Any) -> None:
    from trackline.config import Settings
    from trackline.web.dashboard.app import create_app

    home, stream = streaming
    app = create_app(Settings.load(home=home))
    with serve_app(app) as url:
        page = browser.new_page()
        try:
            values: list[int] = []
            deadline = time.monotonic() + DEADLINE
            while len(set(values)) < 3 and time.monotonic() < deadline:
                assert stream.poll() is None, "the stream stopped while events kept coming"
                response = page.goto(url + "/stream", timeout=30_000)
                assert response is not None and response.status == 200
                found = page.locator("#events")
                if found.count():
                    values.append(int(found.inner_text().replace(",", "")))
                time.sleep(0.2)
        finally:
            page.close()
    assert len(set(values)) >= 3, values  # the page showed the stream growing
    assert values == sorted(values)


def test_a_writer_gets_the_file_from_an_idle_dashboard(tmp_path: Path) -> None:
    """The dashboard keeps its read-only opening warm after a request (10 s), but a writer
    that asks (`<warehouse>.writing`) gets the file well within its own 3 s wait."""
    import httpx

    from tests.web.dashboard import data
    from trackline.web.dashboard.app import create_app

    settings = data.settings_for(tmp_path / "home")
    data.batch_runs(settings, tmp_path, n=50)
    more = data.write_ndjson(tmp_path / "more.ndjson", data.events(20, seed=9))
    with serve_app(create_app(settings)) as url:
        assert httpx.get(url + "/runs", timeout=30).status_code == 200  # opening now kept
        env = {**os.environ, "TRACKLINE_HOME": str(settings.home),
               "TRACKLINE_WAREHOUSE_READ_WAIT_SECONDS": "3"}  # fmt: skip
        cmd = [sys.executable, "-m", "trackline", "-q", "ingest", str(more)]
        r = subprocess.run(
            [*cmd, "-d", "listening_events"], env=env, capture_output=True, text=True, timeout=120
        )
        assert r.returncode == 0, r.stderr
        page = httpx.get(url + "/runs", timeout=30).text
    assert page.count('<tr class="run">') == 3
