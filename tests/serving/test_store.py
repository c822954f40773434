"""One contract suite for every serving backend that runs here (embedded SQLite, Redis, the
Bigtable emulator)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.services import require
from trackline.errors import ExtraNotInstalledError, UsageError
from trackline.serving import ServingStore, keys, open_store
from trackline.serving.base import redact
from trackline.serving.bigtable import parse_uri

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "redis", "bigtable"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ServingStore]:
    if request.param == "sqlite":
        s = open_store(f"sqlite:///{tmp_path / 'serving.sqlite'}")
        yield s
        s.close()
        return
    prefix = f"trackline-test-{uuid.uuid4().hex[:8]}"
    if request.param == "bigtable":
        monkeypatch.setenv("BIGTABLE_EMULATOR_HOST", require("bigtable"))
        s = open_store(f"bigtable://test-project/{prefix}?prefix=t_")
    else:
        s = open_store(f"{require('redis')}?prefix={prefix}")
    yield s
    for table in ("events", "daily"):
        s.kv.drop(table)  # type: ignore[attr-defined]
    s.close()


def test_timeline_is_newest_first_within_the_window(store: ServingStore) -> None:
    for i in range(10):
        store.write_event("ana", T0 + timedelta(minutes=i), {"n": i}, event_id=f"e{i}")
    store.write_event("anab", T0 + timedelta(minutes=5), {"n": 99})  # a prefix of no one
    got = store.get_user_events("ana", T0 + timedelta(minutes=2), T0 + timedelta(minutes=8))
    assert [e["event"]["n"] for e in got] == [7, 6, 5, 4, 3, 2]  # end is exclusive
    assert got[0]["event_id"] == "e7" and got[0]["user_id"] == "ana"
    assert got[0]["ts"] == (T0 + timedelta(minutes=7)).isoformat()


def test_limit_and_empty_windows(store: ServingStore) -> None:
    for i in range(5):
        store.write_event("ben", T0 + timedelta(seconds=i), {"n": i})
    latest = store.get_user_events("ben", T0, T0 + timedelta(days=1), limit=2)
    assert [e["event"]["n"] for e in latest] == [4, 3]
    assert store.get_user_events("ben", T0 + timedelta(days=1), T0 + timedelta(days=2)) == []
    assert store.get_user_events("ben", T0 + timedelta(days=1), T0) == []
    assert store.get_user_events("nobody", T0, T0 + timedelta(days=1)) == []
    with pytest.raises(UsageError):
        store.get_user_events("ben", T0, T0 + timedelta(days=1), limit=0)


def test_same_event_twice_is_stored_once(store: ServingStore) -> None:
    first = store.write_event("cai", T0, {"track": "t1"})
    again = store.write_event("cai", T0, {"track": "t1"})
    assert first == again
    assert len(store.get_user_events("cai", T0, T0 + timedelta(seconds=1))) == 1


def test_separators_in_ids_cannot_leak_across_users(store: ServingStore) -> None:
    store.write_event("a#b", T0, {"who": "a#b"})
    store.write_event("a", T0, {"who": "a"})
    got = store.get_user_events("a", T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert [e["event"]["who"] for e in got] == ["a"]


def test_daily_aggregates_by_key(store: ServingStore) -> None:
    day = date(2024, 5, 1)
    store.write_aggregates(
        [
            ("user", "ana", day, {"total_events": 3, "minutes": 7.5}),
            ("genre", "hip hop", day, {"plays": 10}),
            ("user", "ana", day + timedelta(days=1), {"total_events": 1}),
        ]
    )
    assert store.get_daily_aggregates("user", "ana", day) == {"total_events": 3, "minutes": 7.5}
    assert store.get_daily_aggregates("genre", "hip hop", day) == {"plays": 10}
    assert store.get_daily_aggregates("user", "ana", day + timedelta(days=2)) is None
    store.write_aggregate("user", "ana", day, {"total_events": 4})  # a rerun replaces
    assert store.get_daily_aggregates("user", "ana", day) == {"total_events": 4}


def test_row_keys_lead_with_the_entity_and_reverse_time() -> None:
    k1 = keys.event_key("user_1", T0, "e")
    k2 = keys.event_key("user_1", T0 + timedelta(seconds=1), "e")
    assert k1.startswith("user_1#") and k2 < k1  # newer sorts first
    assert keys.aggregate_key("user", "user_1", date(2024, 5, 1)) == "user#user_1#20240501"
    assert keys.escape("a#b%c") == "a%23b%25c" and keys.unescape("a%23b%25c") == "a#b%c"


def test_unknown_scheme_lists_the_known_ones() -> None:
    with pytest.raises(UsageError, match="sqlite://"):
        open_store("cassandra://x")


def test_redact_hides_passwords() -> None:
    assert redact("redis://:s3cret@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert "s3cret" not in redact("redis://user:s3cret@host/0")


def test_bigtable_uri_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    target = parse_uri("bigtable://my-project/my-instance?prefix=tl_")
    assert (target.project, target.instance, target.prefix) == ("my-project", "my-instance", "tl_")
    for bad in ("bigtable://my-project", "bigtable://p/i/x", "bigtable://u:pw@p/i"):
        with pytest.raises(UsageError):
            parse_uri(bad)
    monkeypatch.setitem(sys.modules, "google.cloud.bigtable", None)
    with pytest.raises(ExtraNotInstalledError, match=r"trackline\[gcp\]"):
        open_store("bigtable://my-project/my-instance")
