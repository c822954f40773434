"""The worker receiving real push deliveries from a Pub/Sub emulator push subscription.

The session is announced with `trigger.announce` over `pubsub://` and the emulator POSTs its own
envelope to the worker on 127.0.0.1. Gap: the emulator sends no OIDC token (a push subscription's
`oidc_token` is accepted and ignored), so for the accepted path a small proxy on 127.0.0.1 stands
in for Google's token and adds the worker's bearer token; the unauthenticated path goes straight
to the worker.
"""

from __future__ import annotations

import http.server
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.services import require
from tests.web.conftest import TOKEN, serve_app
from trackline.bus.pubsub import PubSubBus
from trackline.config import Settings
from trackline.pipelines.generated import GeneratedPipeline
from trackline.sessions.trigger import TOPIC, announce
from trackline.state import StateStore
from trackline.web.auth import TokenAuth
from trackline.web.push import create_app


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Iterator[PubSubBus]:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", require("pubsub"))
    b = PubSubBus.from_uri(f"pubsub://tl-{uuid.uuid4().hex[:12]}", settings)
    yield b
    b.close()


@contextmanager
def token_proxy(target: str) -> Iterator[tuple[str, list[int]]]:
    """An HTTP hop that adds `Authorization: Bearer TOKEN`, as Google's OIDC token would be;
    yields its URL and the status of every delivery it passed on."""
    statuses: list[int] = []

    class Hop(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            resp = httpx.post(
                target + self.path,
                content=body,
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
                timeout=60,
            )
            statuses.append(resp.status_code)
            self.send_response(resp.status_code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hop)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", statuses
    finally:
        server.shutdown()
        server.server_close()


def push_subscription(bus: PubSubBus, name: str, endpoint: str, **extra: Any) -> None:
    """What an operator creates for Cloud Run (the emulator ignores the OIDC part)."""
    bus.subscriber.create_subscription(
        request={
            "name": f"projects/{bus.target.project}/subscriptions/{name}",
            "topic": bus.target.topic_path(TOPIC),
            "ack_deadline_seconds": 60,
            "push_config": {
                "push_endpoint": f"{endpoint}/pubsub/push",
                "oidc_token": {"service_account_email": "push@p.iam.gserviceaccount.com"},
            },
            **extra,
        },
        timeout=10,
    )


def wait_for(check: Any, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_a_push_delivery_runs_the_session_once_and_is_acked(
    settings: Settings, store: StateStore, bus: PubSubBus
) -> None:
    pipeline = GeneratedPipeline(settings, count=20)
    app = create_app(
        settings, store=store, pipeline=pipeline, worker_id="w-push",
        authenticator=TokenAuth(TOKEN),
    )  # fmt: skip
    store.add_user("ana")
    sid = store.create_session(["ana"]).session_id
    with serve_app(app) as worker, token_proxy(worker) as (endpoint, statuses):
        bus.ensure_group(TOPIC, "workers")  # the topic exists before the push subscription
        push_subscription(bus, "sessions-push", endpoint)
        announce(store, bus, sid)

        def done() -> bool:
            found = store.get_session(sid)
            return found is not None and found.status == "done"

        assert wait_for(done), f"session not done; deliveries: {statuses}"
        time.sleep(2)  # an unacked delivery would come back
        assert statuses == [200]
    found = store.get_session(sid)
    assert found is not None and found.worker_id == "w-push"


def test_an_unauthenticated_push_runs_nothing_and_ends_in_the_dead_letter_topic(
    settings: Settings, store: StateStore, bus: PubSubBus
) -> None:
    app = create_app(settings, store=store, worker_id="w-push", authenticator=TokenAuth(TOKEN))
    store.add_user("ana")
    sid = store.create_session(["ana"]).session_id
    with serve_app(app) as worker:
        bus.ensure_group(TOPIC, "workers")  # the topic (and its born pull group)
        bus.ensure_group(f"{TOPIC}.dlq", "audit")  # the dead-letter topic and a reader
        push_subscription(
            bus,
            "sessions-push",
            worker,  # straight to the worker: no token, as the emulator sends it
            dead_letter_policy={
                "dead_letter_topic": bus.target.topic_path(f"{TOPIC}.dlq"),
                "max_delivery_attempts": 5,
            },
        )
        announce(store, bus, sid)
        dead: list[Any] = []

        def dead_lettered() -> bool:
            dead.extend(bus.consume(f"{TOPIC}.dlq", "audit", timeout=0.5))
            return bool(dead)

        assert wait_for(dead_lettered, 60)
    found = store.get_session(sid)
    assert found is not None and found.status == "pending" and found.worker_id is None
    assert dead[0].attributes["session_id"] == sid
    assert dead[0].attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"
