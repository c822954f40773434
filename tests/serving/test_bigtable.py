"""The Bigtable serving store on the emulator, beyond the contract suite (test_store.py): the row
keys as Bigtable holds them, tables created on first write, and `aggregate` writing there."""

from __future__ import annotations

import socket
import time
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.analytics.conftest import NOW, small_group  # noqa: F401  (fixture)
from tests.services import require
from trackline.config import Settings
from trackline.errors import ServingError
from trackline.serving import ServingStore, bigtable, keys, open_store
from trackline.serving.aggregate import aggregate_day

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def uri(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("BIGTABLE_EMULATOR_HOST", require("bigtable"))
    uri = f"bigtable://test-project/i-{uuid.uuid4().hex[:10]}?prefix=t_"
    yield uri
    with open_store(uri) as store:
        for table in ("events", "daily"):
            store.kv.drop(table)  # type: ignore[attr-defined]


def _raw_rows(uri: str, table: str) -> list[tuple[str, str]]:
    """Row keys and values straight from the emulator, in Bigtable's key order."""
    from google.cloud import bigtable

    project, rest = uri.removeprefix("bigtable://").split("/", 1)
    instance = rest.split("?", 1)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        client = bigtable.Client(project=project, admin=True)
        t = client.instance(instance).table(f"t_{table}")
        out = [(r.row_key.decode(), r.cells["d"][b"v"][0].value.decode()) for r in t.read_rows()]
    client.close()
    return out


def _tables(uri: str) -> list[str]:
    from google.cloud import bigtable

    project, rest = uri.removeprefix("bigtable://").split("/", 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        client = bigtable.Client(project=project, admin=True)
        names = sorted(t.table_id for t in client.instance(rest.split("?", 1)[0]).list_tables())
    client.close()
    return names


def test_row_keys_in_bigtable_lead_with_the_user_and_reverse_time(uri: str) -> None:
    with open_store(uri) as store:
        for i in range(3):
            store.write_event("ana", T0 + timedelta(minutes=i), {"n": i}, event_id=f"e{i}")
        store.write_event("ben", T0, {"n": 9}, event_id="b")
    rows = _raw_rows(uri, "events")
    assert [k for k, _ in rows] == [
        keys.event_key("ana", T0 + timedelta(minutes=2), "e2"),  # newest first
        keys.event_key("ana", T0 + timedelta(minutes=1), "e1"),
        keys.event_key("ana", T0, "e0"),
        keys.event_key("ben", T0, "b"),
    ]
    assert rows[0][0].startswith("ana#") and rows[0][0].split("#")[1] == keys.reversed_ms(
        T0 + timedelta(minutes=2)
    )


def test_a_rewrite_keeps_one_version(uri: str) -> None:
    day = date(2024, 5, 1)
    with open_store(uri) as store:
        store.write_aggregate("user", "ana", day, {"plays": 1})
        store.write_aggregate("user", "ana", day, {"plays": 2})
        assert store.get_daily_aggregates("user", "ana", day) == {"plays": 2}
    rows = _raw_rows(uri, "daily")
    assert [k for k, _ in rows] == ["user#ana#20240501"] and '"plays": 2' in rows[0][1]


def test_missing_tables_read_empty_and_are_made_on_first_write(uri: str) -> None:
    with open_store(uri) as store:
        assert store.get_daily_aggregates("user", "ana", date(2024, 5, 1)) is None
        assert store.get_user_events("ana", T0, T0 + timedelta(days=1)) == []
        assert _tables(uri) == []  # reading created nothing
        store.write_event("ana", T0, {"n": 1})
        assert _tables(uri) == ["t_events"]


def _all_aggregates(store: ServingStore, day: date) -> dict[str, Any]:
    found = {}
    for dimension, value in [("user", u) for u in ("ana", "ben", "cai")] + [
        ("genre", "pop"),
        ("country", "US"),
    ]:
        found[f"{dimension}:{value}"] = store.get_daily_aggregates(dimension, value, day)
    return found


def test_aggregate_writes_the_same_rows_as_the_embedded_store(
    uri: str,
    small_group: Settings,  # noqa: F811
) -> None:
    day = (NOW - timedelta(hours=1)).date()
    embedded = aggregate_day(small_group, day)
    on_bigtable = aggregate_day(small_group.model_copy(update={"serving_uri": uri}), day)
    assert on_bigtable["written"] == embedded["written"] > 0
    assert on_bigtable["serving_uri"].startswith("bigtable://test-project/")
    with open_store(small_group.serving) as a, open_store(uri) as b:
        expected = _all_aggregates(a, day)
        assert any(expected.values())
        assert _all_aggregates(b, day) == expected
    assert len(_raw_rows(uri, "daily")) == embedded["written"]


def test_an_unanswered_bigtable_is_one_error_in_bounded_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("BIGTABLE_EMULATOR_HOST", f"127.0.0.1:{port}")
    monkeypatch.setattr(bigtable, "DEADLINE_SECONDS", 2.0)  # the budget, short for the test
    started = time.monotonic()
    with (
        open_store("bigtable://dead-project/i") as store,
        pytest.raises(ServingError, match="did not answer"),
    ):
        store.get_daily_aggregates("user", "a", date(2024, 5, 1))
    assert time.monotonic() - started < 30  # the old read wrapper waited 600 s
