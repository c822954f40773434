"""From `sessions create` through a real HTTP push to `trackline serve worker`, to `done`."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import CLI
from trackline.bus.base import open_bus
from trackline.config import Settings
from trackline.fakeapi import FakeAPI, serve

TOKEN = "e2e-token-5f2a"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_session_create_push_done_show_and_trigger(cli: CLI, tmp_path: Path) -> None:
    with serve(FakeAPI.create()) as fake:
        env = {**fake.env(), "TRACKLINE_WORKER_TOKEN": TOKEN}
        for user in ("ana", "ben"):
            token = fake.spotify_auth.issue_refresh_token(user)
            r = cli("users", "add", user, "--spotify-refresh-token", token, extra_env=env)
            assert r.code == 0, r.err
        r = cli("sessions", "create", "--user", "ana", "--user", "ben", "--json", extra_env=env)
        assert r.code == 0, r.err
        sid = r.json()["session_id"]

        home = tmp_path / "home"  # the cli fixture's home: read the announcement off the bus
        bus = open_bus(None, Settings.load(home=home))
        try:
            msgs = bus.consume("sessions", "pubsub-push", max_messages=10, timeout=1)
        finally:
            bus.close()
        assert [json.loads(m.data) for m in msgs] == [{"session_id": sid}]
        push = {
            "message": {
                "data": base64.b64encode(msgs[0].data).decode(),
                "attributes": msgs[0].attributes,
                "messageId": msgs[0].id,
                "publishTime": "2024-05-01T00:00:00Z",
            },
            "subscription": "projects/p/subscriptions/s",
        }

        port = _free_port()
        proc_env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLINE_")}
        proc_env.update(env, TRACKLINE_HOME=str(home))
        proc = subprocess.Popen(
            [sys.executable, "-m", "trackline", "serve", "worker", "--port", str(port)],
            env=proc_env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    health = httpx.get(f"{url}/healthz")
                    if health.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.1)
            # Unauthenticated, so it tells nothing about the host or the software.
            assert health.json() == {"status": "ok"} and "server" not in health.headers
            denied = httpx.post(f"{url}/pubsub/push", json=push)
            assert denied.status_code == 401
            resp = httpx.post(
                f"{url}/pubsub/push",
                json=push,
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=120,
            )
            assert resp.status_code == 200, resp.text
            assert resp.json()["result"] == "done"
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        assert proc.stderr is not None
        logs = proc.stderr.read().decode()
        assert TOKEN not in logs and f"session_id={sid}" in logs

    shown = cli("sessions", "show", sid)
    assert shown.code == 0 and f"session {sid}: done" in shown.out
    assert "ana (active" in shown.out and "user ana: ok (added" in shown.out
    q = cli("query", "SELECT count(DISTINCT user_id) AS n FROM listens", "--json")
    assert q.code == 0, q.err
    assert q.json() == [{"n": 2}]
    t = cli("trigger", "--json")
    assert t.code == 0 and t.json() == {"published": []}
    fb = cli("sessions", "feedback", sid, "--json")
    assert fb.code == 0 and fb.json()["totals"]["events"] == 0


def test_serve_worker_with_oidc_but_no_service_account_exits_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLINE_")}
    env.update(
        TRACKLINE_HOME=str(tmp_path / "home"),
        TRACKLINE_WORKER_AUTH="oidc",
        TRACKLINE_WORKER_OIDC_AUDIENCE="https://worker.example/pubsub/push",
    )
    argv = [sys.executable, "-m", "trackline", "serve", "worker", "--port", str(_free_port())]
    try:  # before the fix this started listening, open to any Google account: a timeout
        r = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the worker started with OIDC and no service account")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "TRACKLINE_WORKER_OIDC_EMAIL" in lines[0], r.stderr
    assert "Traceback" not in r.stderr and "listening" not in r.stdout
