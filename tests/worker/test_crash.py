"""A worker killed mid-session (kill -9 of a real `trackline worker` process) leaves the
session re-runnable once its lease ends, and the rerun adds no duplicate rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.worker.conftest import connect
from trackline import sessions
from trackline.config import Settings
from trackline.contracts.loader import ContractRegistry
from trackline.core import duck
from trackline.fakeapi import FakeAPI, serve
from trackline.fakeapi.faults import FaultRates
from trackline.sessions.runner import run_session
from trackline.state import open_state

KEYS = {t: ", ".join(ContractRegistry().get(t).key_columns) for t in ("listens", "playlist_tracks")}


@pytest.fixture
def slow_fake() -> Iterator[FakeAPI]:
    with serve(FakeAPI.create(rates=FaultRates(slow_ms=40))) as api:
        yield api


def _counts(settings: Settings) -> dict[str, tuple[int, int, int]]:
    """table -> (rows, distinct keys, rows of ana)."""
    con = duck.connect(settings.warehouse, read_only=True)
    try:
        out = {}
        for table, key in KEYS.items():
            row = con.execute(
                f"SELECT count(*), count(DISTINCT ({key})), count(*) FILTER (user_id = 'ana') "
                f"FROM {table}"
            ).fetchone()
            assert row is not None
            out[table] = (int(row[0]), int(row[1]), int(row[2]))
        return out
    finally:
        con.close()


@pytest.mark.slow
def test_killed_worker_leaves_the_session_rerunnable_without_duplicates(
    slow_fake: FakeAPI, tmp_path: Path
) -> None:
    lease = 3.0
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLINE_")}
    env.update(slow_fake.env())
    env.update(
        TRACKLINE_HOME=str(tmp_path / "home"),
        TRACKLINE_WORKER_LEASE_SECONDS=str(lease),
        TRACKLINE_WORKER_USER_CONCURRENCY="1",
    )
    settings = Settings.load(
        home=tmp_path / "home",
        worker_lease_seconds=lease,
        worker_user_concurrency=1,
        **slow_fake.settings_overrides(),
    )
    store = open_state(settings)
    try:
        for u in ("ana", "ben", "cy"):
            connect(slow_fake, store, u)
        sid = sessions.create_session(settings, store, ["ana", "ben", "cy"]).session_id
        proc = subprocess.Popen(
            [sys.executable, "-m", "trackline", "worker", "--max-sessions", "1"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:  # kill it once one member is recorded and the next is in flight
            found = store.get_session(sid)
            assert found is not None
            if found.outcomes:
                break
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the worker never recorded a member"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        crashed = store.get_session(sid)
        assert crashed is not None and crashed.status == "running"
        assert 1 <= len(crashed.outcomes) < 3, "the kill came too late to be mid-session"
        first = next(iter(crashed.outcomes))
        before = _counts(settings)

        early = run_session(settings, store, sid, "w2")
        assert early.result == "already_running"  # the dead worker's lease still holds
        time.sleep(lease + 0.2)
        rerun = run_session(settings, store, sid, "w2")
        assert rerun.result == "done", rerun.message
        after = _counts(settings)
        done = store.get_session(sid)
        assert done is not None and done.status == "done" and done.attempts == 2
        assert any("reclaimed" in (c.message or "") for c in done.timeline)
        assert set(done.outcomes) == {"ana", "ben", "cy"}
        for table, (rows, distinct, _) in after.items():
            assert rows == distinct, f"{table} has duplicate keys after the rerun"
        if first == "ana":  # the member finished before the crash got nothing twice
            assert all(after[t][2] == before[t][2] for t in KEYS)
    finally:
        store.close()
