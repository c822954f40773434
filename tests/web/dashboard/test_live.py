"""Live beside a stream: while `trackline stream` loads, `trackline query` answers and the
dashboard's stream page shows the new batches (the stream lets the DuckDB file go after every
micro-batch commit; readers wait for it a bounded time)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import serve_app

EVENTS = 4000


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


@pytest.fixture
def streaming(tmp_path: Path) -> Iterator[tuple[Path, Any]]:
    """A stream loading events published at a steady rate for a few seconds."""
    home = tmp_path / "home"
    home.mkdir()
    assert cli(home, "publish", "--count", "1").returncode == 0  # the topic and the bus file
    stream = cli(home, "stream", "--idle-exit", "2", wait=False)
    publish = cli(home, "publish", "--count", str(EVENTS), "--rate", "1000", "--seed", "2",
                  wait=False)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (home / "warehouse.duckdb").exists():
            assert time.monotonic() < deadline and stream.poll() is None, stream.stderr.read()
            time.sleep(0.1)
        yield home, stream
    finally:
        for p in (publish, stream):
            try:
                p.wait(timeout=90)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    assert publish.returncode == 0 and stream.returncode == 0, stream.stderr.read()


def count(home: Path) -> int:
    r = cli(home, "query", "SELECT coalesce(sum(events), 0) AS n FROM meta.stream_metrics",
            "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    return int(re.findall(r'"n":\s*(\d+)', r.stdout)[0])


def test_query_answers_while_the_stream_loads(streaming: tuple[Path, Any]) -> None:
    home, stream = streaming
    during: list[int] = []  # counts read while the stream process was still running
    while stream.poll() is None and len(set(during)) < 3:
        n = count(home)  # every call exits 0: never refused by the stream's lock
        if stream.poll() is None:
            during.append(n)
    assert len(set(during)) >= 2, during
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
            deadline = time.monotonic() + 60
            while len(set(values)) < 3 and stream.poll() is None:
                assert time.monotonic() < deadline
                response = page.goto(url + "/stream", timeout=30_000)
                assert response is not None and response.status == 200
                found = page.locator("#events")
                if found.count() and stream.poll() is None:  # read while it still ran
                    values.append(int(found.inner_text().replace(",", "")))
                time.sleep(0.2)
        finally:
            page.close()
    assert len(set(values)) >= 3, values  # the page showed the stream growing
    assert values == sorted(values)
