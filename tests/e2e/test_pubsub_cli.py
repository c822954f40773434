"""publish, stream, tail and cdc carts over `pubsub://`, against the Pub/Sub emulator, as a user
runs them: in the README's order (publish first, then stream) nothing is lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import CLI
from tests.services import require
from trackline.bus.base import open_bus
from trackline.config import Settings
from trackline.fakeapi import FakeAPI, serve


@pytest.fixture
def pubsub_env() -> dict[str, str]:
    return {"PUBSUB_EMULATOR_HOST": require("pubsub"), "TRACKLINE_BUS_RETRY_SECONDS": "5"}


@pytest.fixture
def uri() -> str:
    return f"pubsub://tl-{uuid.uuid4().hex[:12]}"


def test_publish_then_stream_loses_nothing(cli: CLI, pubsub_env: dict[str, str], uri: str) -> None:
    env = {**pubsub_env, "TRACKLINE_BUS_URI": uri}
    pub = cli("publish", "--count", "400", "--invalid-share", "0.1", "--seed", "3", "--json",
              extra_env=env)  # fmt: skip
    assert pub.code == 0, pub.err
    p = pub.json()
    assert p["published"] == 400 and p["bus"] == uri

    run = cli("stream", "--idle-exit", "2", "--json", extra_env=env)  # started after publish
    assert run.code == 0, run.err
    s = run.json()
    assert s["events"] == 400 == s["valid"] + s["rejected"] + s["duplicates"]
    assert s["valid"] == p["valid"] and s["rejected"] == sum(p["invalid_by_kind"].values())
    q = cli("query", "SELECT count(*) AS n FROM orders", "--json", extra_env=env)
    assert q.code == 0, q.err
    assert q.json() == [{"n": s["by_type"]["orders"]["valid"]}]

    again = cli("stream", "--idle-exit", "1", "--json", extra_env=env)  # all were acked
    assert again.code == 0, again.err
    assert again.json()["events"] == 0


def test_tail_shows_what_is_published_while_it_runs(
    tmp_path: Path, cli: CLI, pubsub_env: dict[str, str], uri: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLINE_")}
    env.update(pubsub_env, TRACKLINE_HOME=str(tmp_path / "home"), TRACKLINE_BUS_URI=uri)
    assert cli("publish", "--count", "1", extra_env=env).code == 0  # the topic exists
    tail = subprocess.Popen(
        [sys.executable, "-m", "trackline", "tail", "events", "--max", "3", "--idle-exit", "20",
         "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        # Pub/Sub has no replay: publish only once tail's private subscription exists
        assert wait_for_subscription(uri, "events.tail-", pubsub_env["PUBSUB_EMULATOR_HOST"])
        pub = cli("publish", "--count", "5", "--types", "orders", "--json", extra_env=env)
        assert pub.code == 0, pub.err
        out, err = tail.communicate(timeout=30)
    finally:
        if tail.poll() is None:
            tail.kill()
    assert tail.returncode == 0, err
    lines = [json.loads(x) for x in out.splitlines()]
    assert len(lines) == 3
    assert all(x["attributes"]["event_type"] == "orders" for x in lines)
    assert all(isinstance(x["data"], dict) and "order_id" in x["data"] for x in lines)


def wait_for_subscription(uri: str, prefix: str, host: str, seconds: float = 60) -> bool:
    """Whether a subscription named `prefix...` appears in the URI's project in time."""
    from google.cloud import pubsub_v1

    os.environ["PUBSUB_EMULATOR_HOST"] = host
    try:
        client = pubsub_v1.SubscriberClient()
    finally:
        del os.environ["PUBSUB_EMULATOR_HOST"]
    project = uri.split("://", 1)[1]
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            subs = client.list_subscriptions(request={"project": f"projects/{project}"}, timeout=5)
            if any(s.name.rsplit("/", 1)[1].startswith(prefix) for s in subs):
                return True
            time.sleep(0.2)
        return False
    finally:
        client.close()


@pytest.fixture
def fake() -> Iterator[FakeAPI]:
    with serve(FakeAPI.create(seed=5)) as f:
        yield f


def test_cdc_carts_publishes_cloudevents_to_pubsub(
    tmp_path: Path, cli: CLI, fake: FakeAPI, pubsub_env: dict[str, str], uri: str
) -> None:
    env = {**fake.env(), **pubsub_env, "TRACKLINE_BUS_URI": uri}
    first = cli("cdc", "carts", "--once", "--json", extra_env=env)
    assert first.code == 0, first.err
    assert first.json()["published"] == 7
    # the topic was born with the stream's subscription: the events wait there
    os.environ["PUBSUB_EMULATOR_HOST"] = pubsub_env["PUBSUB_EMULATOR_HOST"]
    try:
        bus = open_bus(uri, Settings.load(home=tmp_path / "reader"))
        got = []
        deadline = time.monotonic() + 10
        while len(got) < 7 and time.monotonic() < deadline:
            batch = bus.consume("cdc.carts", "trackline-stream", timeout=1)
            bus.ack("cdc.carts", "trackline-stream", batch)
            got.extend(batch)
        bus.close()
    finally:
        del os.environ["PUBSUB_EMULATOR_HOST"]
    assert len(got) == 7
    events = [json.loads(m.data) for m in got]
    assert {e["data"]["op"] for e in events} == {"r"}
    assert all(m.ordering_key == e["partitionkey"] for m, e in zip(got, events, strict=True))
