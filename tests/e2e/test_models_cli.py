"""The analytics, recommend and aggregate commands as a user runs them (JSON outputs)."""

from __future__ import annotations

from tests.e2e.conftest import CLI


def test_group_analytics_recommend_and_aggregate(cli: CLI) -> None:
    assert cli("generate", "listens", "--count", "2000", "--out", "l.ndjson").code == 0
    assert cli("ingest", "l.ndjson", "--dataset", "listens").code == 0
    users = ["user_0001", "user_0002", "user_0003"]
    flags = [x for u in users for x in ("--user", u)]

    report = cli("analytics", "group", *flags, "--top", "3", "--json")
    assert report.code == 0, report.err
    doc = report.json()
    assert doc["members"] == users
    assert len(doc["overlap"]) == 3
    assert all(len(m["top_tracks"]) <= 3 for m in doc["per_member"].values())

    recs = cli("recommend", "--user", "user_0001", "--n", "5", "--json")
    assert recs.code == 0, recs.err
    items = recs.json()["recommendations"]
    assert len(items) == 5 and all(i["reason"] for i in items)
    again = cli("recommend", "--user", "user_0001", "--n", "5", "--json")
    assert again.json() == recs.json()

    agg = cli("aggregate", "--json")
    assert agg.code == 0, agg.err
    assert agg.json()["serving_uri"].startswith("sqlite:///")


def test_usage_errors_exit_2(cli: CLI) -> None:
    both = cli("recommend", "--user", "a", "--group", "g")
    assert both.code == 2 and "exactly one of --user U or --group G" in both.err
    assert cli("aggregate", "--date", "yesterday").code == 2
    assert cli("analytics", "group").code == 2
    unknown = cli("analytics", "group", "--group", "nobody")
    assert unknown.code == 2 and "no group or session named 'nobody'" in unknown.err
