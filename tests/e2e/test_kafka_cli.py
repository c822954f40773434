"""publish then stream over `kafka://` (the tansu broker), as a user runs them."""

from __future__ import annotations

import uuid

from tests.e2e.conftest import CLI
from tests.services import require


def test_publish_then_stream_over_kafka(cli: CLI) -> None:
    env = {
        "TRACKLINE_BUS_URI": f"kafka://{require('kafka')}?session_timeout_ms=2000",
        "TRACKLINE_BUS_RETRY_SECONDS": "5",
    }
    topic = f"events-{uuid.uuid4().hex[:8]}"
    pub = cli("publish", "--topic", topic, "--count", "300", "--invalid-share", "0.1",
              "--seed", "9", "--json", extra_env=env)  # fmt: skip
    assert pub.code == 0, pub.err
    p = pub.json()
    run = cli("stream", "--topic", topic, "--idle-exit", "3", "--json", extra_env=env)
    assert run.code == 0, run.err
    s = run.json()
    assert s["events"] == 300 == s["valid"] + s["rejected"] + s["duplicates"]
    assert s["valid"] == p["valid"] and s["rejected"] == sum(p["invalid_by_kind"].values())
    one = cli("publish", "--topic", topic, "--count", "1", "--seed", "10", extra_env=env)
    assert one.code == 0, one.err
    again = cli("stream", "--topic", topic, "--idle-exit", "3", "--json", extra_env=env)
    assert again.code == 0, again.err
    assert again.json()["events"] == 1  # the group goes on from its committed offsets
