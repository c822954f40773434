"""`trackline aggregate` into `bigtable://` on the Bigtable emulator, as a user runs it: the same
rows as the embedded serving store, served back by key."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date

import pytest

from tests.e2e.conftest import CLI
from tests.services import require
from trackline.serving import open_store


@pytest.fixture
def bigtable(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("BIGTABLE_EMULATOR_HOST", require("bigtable"))
    uri = f"bigtable://test-project/e2e-{uuid.uuid4().hex[:10]}"
    yield uri
    with open_store(uri) as store:
        for table in ("events", "daily"):
            store.kv.drop(table)  # type: ignore[attr-defined]


def test_aggregate_writes_bigtable_like_the_embedded_store(cli: CLI, bigtable: str) -> None:
    gen = cli("generate", "listens", "--count", "2000", "--seed", "5", "--out", "l.ndjson")
    assert gen.code == 0, gen.err
    ingest = cli("ingest", "l.ndjson", "--dataset", "listens", "--json")
    assert ingest.code == 0, ingest.err
    busiest = cli(
        "query",
        "SELECT CAST(played_at AS DATE) AS day, min(user_id) AS user_id FROM listens "
        "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
        "--json",
    )
    assert busiest.code == 0, busiest.err
    day, user = busiest.json()[0]["day"], busiest.json()[0]["user_id"]

    embedded = cli("aggregate", "--date", day, "--json")
    assert embedded.code == 0, embedded.err
    env = {"BIGTABLE_EMULATOR_HOST": require("bigtable"), "TRACKLINE_SERVING_URI": bigtable}
    on_bigtable = cli("aggregate", "--date", day, "--json", extra_env=env)
    assert on_bigtable.code == 0, on_bigtable.err
    assert "Traceback" not in on_bigtable.err and "RuntimeWarning" not in on_bigtable.err
    b = on_bigtable.json()
    assert b["written"] == embedded.json()["written"] > 0
    assert b["rows"] == embedded.json()["rows"] and b["serving_uri"] == bigtable

    with open_store(bigtable) as store:
        served = store.get_daily_aggregates("user", user, date.fromisoformat(day))
    assert served is not None and served["total_events"] >= 1
