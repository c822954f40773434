"""Groups on the BigQuery warehouse, against the emulator: membership reaches `meta_groups`
(the dbt mart `group_overlap` joins on it) and a group report reads BigQuery's rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.warehouse.bigquery_emulator import bigquery_settings
from trackline.analytics.group_listening import analyse_group
from trackline.analytics.members import members, set_members, sync
from trackline.config import Settings
from trackline.engines.local import LocalEngine
from trackline.generate.writers import write
from trackline.state import open_state
from trackline.state.groups import create_group
from trackline.warehouse.base import open_warehouse


@pytest.fixture
def bq_settings(tmp_path: Path) -> Iterator[Settings]:
    yield bigquery_settings(tmp_path / "home", "g")


def _add_users(settings: Settings, groups: dict[str, list[str]]) -> None:
    store = open_state(settings)
    try:
        for users in groups.values():
            for u in users:
                if store.get_user(u) is None:
                    store.add_user(u)
        for name, users in groups.items():
            create_group(store, name, users, replace=True)
    finally:
        store.close()


def _users(path: Path) -> list[str]:
    seen = {json.loads(line).get("user_id") for line in path.read_text().splitlines()}
    return sorted(u for u in seen if isinstance(u, str) and u)


def test_a_group_report_on_bigquery_matches_the_duckdb_one(
    bq_settings: Settings, tmp_path: Path
) -> None:
    listens, events = tmp_path / "listens.ndjson", tmp_path / "events.ndjson"
    write("listens", 400, listens, seed=11)
    write("listening_events", 200, events, seed=12)
    club = _users(listens)[:3]
    local = Settings.load(home=tmp_path / "local")  # the same data in a DuckDB warehouse
    for settings in (bq_settings, local):
        _add_users(settings, {"club": club})
        engine = LocalEngine(settings)
        assert engine.ingest([str(listens)], "listens").manifest.counts.valid > 0
        assert engine.ingest([str(events)], "listening_events").manifest.counts.valid > 0
    assert members(bq_settings, "club") == club
    got = analyse_group(bq_settings, members(bq_settings, "club"), top_n=5)
    want = analyse_group(local, club, top_n=5)
    assert all(got["per_member"][u]["plays"] > 0 for u in club)
    assert got["overlap"] and got["group_top_tracks"]
    assert json.dumps(got, sort_keys=True, default=str) == json.dumps(
        want, sort_keys=True, default=str
    )


def test_sync_copies_groups_to_meta_groups_and_replaces_a_changed_one(
    bq_settings: Settings,
) -> None:
    _add_users(bq_settings, {"club": ["ana", "cai"], "duo": ["ben", "dee"]})
    set_members(bq_settings, "scripted", ["zoe", "ana"])  # only in the warehouse copy
    assert sync(bq_settings) == 2

    def held() -> list[tuple[str, str]]:
        wh = open_warehouse(bq_settings, read_only=True)
        try:
            found = wh.query("SELECT group_id, user_id FROM meta.groups ORDER BY 1, 2")
        finally:
            wh.close()
        return [(r["group_id"], r["user_id"]) for r in found.to_pylist()]

    assert held() == [
        ("club", "ana"), ("club", "cai"), ("duo", "ben"), ("duo", "dee"),
        ("scripted", "ana"), ("scripted", "zoe"),
    ]  # fmt: skip
    _add_users(bq_settings, {"club": ["cai", "eve"]})  # ana left, eve joined
    assert sync(bq_settings) == 2
    assert held() == [
        ("club", "cai"), ("club", "eve"), ("duo", "ben"), ("duo", "dee"),
        ("scripted", "ana"), ("scripted", "zoe"),
    ]  # fmt: skip
    assert members(bq_settings, "scripted") == ["ana", "zoe"]  # resolved from BigQuery
