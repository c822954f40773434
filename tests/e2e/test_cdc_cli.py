"""`trackline cdc carts` as a user runs it: events on the default bus that `tail` shows and
the `cloudevents` SDK parses; SIGTERM during interval polling finishes the poll and exits 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cloudevents.core.formats.json import JSONFormat

from tests.e2e.conftest import CLI
from trackline.fakeapi import FakeAPI, serve


@pytest.fixture
def fake() -> Iterator[FakeAPI]:
    with serve(FakeAPI.create(seed=5)) as f:
        yield f


def test_once_then_tail_shows_the_events(cli: CLI, fake: FakeAPI) -> None:
    env = fake.env()
    first = cli("cdc", "carts", "--once", "--json", extra_env=env)
    assert first.code == 0, first.err
    summary = first.json()
    assert summary["cold_start"] and summary["ops"]["r"] == 7 and summary["published"] == 7
    assert summary["topic"] == "cdc.carts"
    # a change through the API, then a second poll
    fake.fakestore.write_cart(2, {"date": "2030-01-01T00:00:00.000Z", "products": []})
    second = cli("cdc", "carts", "--once", "--json", extra_env=env)
    assert second.json()["ops"] == {"r": 0, "c": 0, "u": 1, "d": 0}

    tail = cli("tail", "cdc.carts", "--from-beginning", "--max", "8", "--json", extra_env=env)
    assert tail.code == 0, tail.err
    lines = [json.loads(x) for x in tail.out.splitlines()]
    assert len(lines) == 8
    fmt = JSONFormat()
    parsed = [fmt.read(None, json.dumps(x["data"]).encode()) for x in lines]
    assert [p.get_data()["op"] for p in parsed] == ["r"] * 7 + ["u"]  # type: ignore[index]
    assert [p.get_extension("partitionkey") for p in parsed][-1] == "cart_2"
    assert lines[-1]["attributes"]["ce_id"] == parsed[-1].get_id()
    seqs = [p.get_extension("sequence") for p in parsed]
    assert seqs == [str(i).zfill(20) for i in range(1, 9)]


def test_bad_url_is_a_usage_error(cli: CLI) -> None:
    result = cli("cdc", "carts", "--once", "--url", "ftp://example.invalid")
    assert result.code == 2
    assert "--url must be an http(s) URL" in result.err
    assert "Traceback" not in result.err


def test_unreachable_api_fails_cleanly_with_once(cli: CLI) -> None:
    env = {"TRACKLINE_FAKESTORE_API_URL": "http://127.0.0.1:9", "TRACKLINE_HTTP_MAX_ATTEMPTS": "1"}
    result = cli("cdc", "carts", "--once", extra_env=env)
    assert result.code == 1
    assert "failed after 1 tries" in result.err and "Traceback" not in result.err


def test_sigterm_during_a_poll_finishes_it_then_exits(tmp_path: Path, fake: FakeAPI) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLINE_")}
    env.update(fake.env(), TRACKLINE_HOME=str(tmp_path / "home"))
    cmd = [sys.executable, "-m", "trackline", "cdc", "carts", "--interval", "0.2", "--json"]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())  # the cold start is done
        assert first["poll"] == 1 and first["published"] == 7
        served = fake.faults.injected
        fake.faults.script("/fakestore/carts", ["slow:1500"])  # the next fetch takes 1.5 s
        deadline = time.monotonic() + 10
        while fake.faults.injected == served and time.monotonic() < deadline:
            time.sleep(0.02)  # wait until the slow fetch is in progress
        # a change the slow fetch will still see (the fake answers after its sleep)
        fake.fakestore.write_cart(3, {"date": "2031-01-01T00:00:00.000Z", "products": []})
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    polls = [json.loads(x) for x in out.splitlines()]
    assert polls[-1]["ops"]["u"] == 1 and polls[-1]["published"] == 1  # the poll finished
    assert "Traceback" not in err
