"""publish, stream and tail as a user runs them, on the default embedded log."""

from __future__ import annotations

import json

from tests.e2e.conftest import CLI


def test_publish_stream_tail_round_trip(cli: CLI) -> None:
    pub = cli("publish", "--count", "600", "--invalid-share", "0.1", "--seed", "4", "--json")
    assert pub.code == 0, pub.err
    p = pub.json()
    assert p["published"] == 600 and set(p["by_type"]) == {"orders", "inventory", "user_activity"}
    assert p["valid"] + p["duplicates"] + sum(p["invalid_by_kind"].values()) == 600

    tail = cli("tail", "events", "--from-beginning", "--max", "5", "--json")
    assert tail.code == 0, tail.err
    lines = [json.loads(x) for x in tail.out.splitlines()]
    assert len(lines) == 5 and all(set(x) == {"id", "attributes", "data"} for x in lines)
    assert {x["attributes"]["event_type"] for x in lines} <= {
        "orders",
        "inventory",
        "user_activity",
    }

    run = cli("stream", "--idle-exit", "1", "--json")
    assert run.code == 0, run.err
    s = run.json()
    assert s["events"] == 600 == s["valid"] + s["rejected"] + s["duplicates"]
    assert s["valid"] == p["valid"] and s["latency_ms"]["p99"] is not None and s["lag"] == 0

    again = cli("stream", "--idle-exit", "0.5", "--json")  # tail's private group took nothing
    assert again.json()["events"] == 0
    q = cli("query", "SELECT count(*) AS n FROM orders", "--json")
    assert q.code == 0, q.err


def test_bad_bus_and_types_are_usage_errors(cli: CLI) -> None:
    bad = cli("publish", "--bus", "carrier-pigeon://x", "--count", "1")
    assert bad.code == 2 and "unknown bus" in bad.err and "log://" in bad.err
    types = cli("publish", "--types", "orders,refunds")
    assert types.code == 2 and "refunds" in types.err
    secret = cli(
        "tail",
        "events",
        "--bus",
        "redis://user:hunter2@127.0.0.1:1/0",
        "--max",
        "1",
        extra_env={"TRACKLINE_BUS_RETRY_SECONDS": "0.5"},
    )
    assert secret.code != 0 and "hunter2" not in secret.err + secret.out
