"""The push endpoint over real HTTP: auth, the envelope, status codes, duplicates."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.web.conftest import TOKEN, auth, connect, envelope, serve_app
from trackline.config import Settings
from trackline.core import duck
from trackline.fakeapi import FakeAPI
from trackline.pipelines.base import UserOutcome
from trackline.pipelines.generated import GeneratedPipeline
from trackline.state import StateStore
from trackline.web.auth import TokenAuth
from trackline.web.push import create_app


@pytest.fixture
def worker_url(settings: Settings, store: StateStore) -> Iterator[str]:
    app = create_app(settings, store=store, worker_id="w-http", authenticator=TokenAuth(TOKEN))
    with serve_app(app) as url:
        yield url


def test_push_runs_the_session_to_done_with_data_in_the_warehouse(
    fake: FakeAPI, settings: Settings, store: StateStore, worker_url: str
) -> None:
    connect(fake, store, "ana")
    connect(fake, store, "ben", "youtube")
    sid = store.create_session(["ana", "ben"]).session_id
    resp = httpx.post(f"{worker_url}/pubsub/push", json=envelope(sid), headers=auth(), timeout=60)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["result"] == "done" and body["status"] == "done"
    found = store.get_session(sid)
    assert found is not None and found.status == "done" and found.worker_id == "w-http"
    con = duck.connect(settings.warehouse, read_only=True)
    try:
        users = {r[0] for r in con.execute("SELECT DISTINCT user_id FROM listens").fetchall()}
        yt = con.execute("SELECT count(*) FROM playlist_tracks WHERE user_id = 'ben'").fetchone()
    finally:
        con.close()
    assert "ana" in users and yt is not None and yt[0] > 0


def test_the_same_message_pushed_three_times_runs_once(
    settings: Settings, store: StateStore
) -> None:
    calls: list[str] = []
    gate = threading.Event()
    inner = GeneratedPipeline(settings, count=20)

    def pipeline(s: Settings, st: StateStore, user_id: str) -> UserOutcome:
        calls.append(user_id)
        gate.wait(10)  # hold the session running while the duplicates arrive
        return inner(s, st, user_id)

    store.add_user("ana")
    sid = store.create_session(["ana"]).session_id
    app = create_app(
        settings, store=store, pipeline=pipeline, worker_id="w1", authenticator=TokenAuth(TOKEN)
    )
    with serve_app(app) as url, ThreadPoolExecutor(3) as pool:
        first = pool.submit(
            httpx.post, f"{url}/pubsub/push", json=envelope(sid), headers=auth(), timeout=30
        )
        while not calls:
            threading.Event().wait(0.01)
        dupes = [
            httpx.post(f"{url}/pubsub/push", json=envelope(sid), headers=auth(), timeout=30)
            for _ in range(2)
        ]
        gate.set()
        done = first.result()
        late = httpx.post(f"{url}/pubsub/push", json=envelope(sid), headers=auth(), timeout=30)
    assert [d.status_code for d in dupes] == [200, 200]
    assert {d.json()["result"] for d in dupes} == {"already_running"}
    assert done.status_code == 200 and done.json()["result"] == "done"
    assert late.status_code == 200 and late.json()["result"] == "already_finished"
    assert calls == ["ana"]
    found = store.get_session(sid)
    assert found is not None and found.attempts == 1


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}],
    ids=["missing", "wrong", "not-bearer"],
)
def test_unauthenticated_push_gets_401_and_changes_nothing(
    settings: Settings, store: StateStore, worker_url: str, headers: dict[str, str]
) -> None:
    store.add_user("ana")
    sid = store.create_session(["ana"]).session_id
    before = store.get_session(sid)
    resp = httpx.post(f"{worker_url}/pubsub/push", json=envelope(sid), headers=headers)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"
    assert TOKEN not in resp.text
    assert store.get_session(sid) == before
    assert not settings.warehouse.exists()


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"not json", "not JSON"),
        (b'{"subscription": "s"}', '"message"'),
        (b'{"message": {"data": "%%%"}}', "base64"),
        (
            b'{"message": {"data": "' + base64.b64encode(b'{"id": 1}') + b'"}}',
            "session_id",
        ),
    ],
)
def test_malformed_envelope_is_400_with_the_reason(worker_url: str, body: bytes, why: str) -> None:
    resp = httpx.post(f"{worker_url}/pubsub/push", content=body, headers=auth())
    assert resp.status_code == 400 and why in resp.json()["error"]


def test_unknown_session_is_404_so_pubsub_retries_then_dead_letters(worker_url: str) -> None:
    resp = httpx.post(f"{worker_url}/pubsub/push", json=envelope("nope"), headers=auth())
    assert resp.status_code == 404 and resp.json()["result"] == "unknown"


def test_healthz_says_ok_and_nothing_about_the_host(worker_url: str) -> None:
    resp = httpx.get(f"{worker_url}/healthz")
    assert resp.status_code == 200 and resp.json() == {"status": "ok"}
    assert "w-http" not in resp.text
    assert httpx.get(f"{worker_url}/openapi.json").status_code == 404
