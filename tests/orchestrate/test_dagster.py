"""The Dagster assets materialised in process (`materialize()`) against the fake APIs."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.orchestrate.conftest import GROUP, Club
from tests.services import require
from tests.warehouse_rows import warehouse_rows

dg = pytest.importorskip("dagster")

from trackline.orchestrate.dagster import MARTS, friend_group_assets, member_datasets  # noqa: E402

DATASETS = member_datasets()  # what Spotify and YouTube fetches produce, from the connectors


def materialize(club: Club, selection: list[str], **overrides: Any) -> Any:
    assets = friend_group_assets(GROUP, settings={**club.overrides, **overrides})
    return dg.materialize(assets, selection=selection, raise_on_error=False)


def checks(result: Any) -> dict[tuple[str, str], Any]:
    """(asset, check name) -> its evaluation (passed, metadata)."""
    return {
        (e.asset_key.to_user_string(), e.check_name): e
        for e in result.get_asset_check_evaluations()
    }


def test_assets_materialise_with_their_checks_and_a_failing_member(club: Club) -> None:
    result = materialize(club, ["fetched", *DATASETS, "user_top_tracks", "group_report"])
    assert result.success
    fetched = result.asset_materializations_for_node("fetched")[0].metadata
    assert fetched["failed"].value.keys() == {"spotify/cy"}  # revoked: only cy is missing
    for d in DATASETS:
        [mat] = [m for m in result.asset_materializations_for_node("ingest")
                 if m.asset_key.to_user_string() == d]  # fmt: skip
        run_id = mat.metadata["run_id"].value
        if not run_id:  # nothing fetched for it (the fake has no podcast episodes)
            assert mat.metadata["input"].value == 0 and d not in ("listens", "top_tracks")
            continue
        [(n,)] = warehouse_rows(
            club.settings, f"SELECT count(*) FROM {d} WHERE run_id = '{run_id}'"
        )
        assert n == mat.metadata["valid"].value
        if d in ("listens", "playlist_tracks", "top_artists", "top_tracks"):
            assert n > 0
    found = checks(result)
    assert set(found) == {(d, c) for d in DATASETS for c in ("rejected_share", "conservation")}
    assert all(e.passed for e in found.values())
    marts = {m.asset_key.to_user_string() for m in result.asset_materializations_for_node("marts")}
    assert marts == {"user_top_tracks"}  # subset: only the selected mart was built
    [(users,)] = warehouse_rows(
        club.settings, "SELECT count(DISTINCT user_id) FROM marts.user_top_tracks"
    )
    assert users == 2
    report = result.asset_materializations_for_node("group_report")[0].metadata
    assert report["plays"].value == {"ana": 40, "ben": 40, "cy": 0}


def test_rejected_share_over_the_threshold_fails_its_check_and_blocks_the_marts(
    club: Club,
) -> None:
    club.fake.spotify.bad_play_every = 3  # about a third of plays have an unreadable time
    result = materialize(
        club, ["fetched", *DATASETS, "user_top_tracks"], quality_max_rejected_share=0.1
    )
    found = checks(result)
    listens = found[("listens", "rejected_share")]
    assert not listens.passed
    assert listens.metadata["rejected_share"].value > 0.1
    assert found[("listens", "conservation")].passed  # rejected rows are counted, not lost
    assert found[("top_tracks", "rejected_share")].passed
    assert not result.success  # a blocking check failed: the mart was not built on it
    assert not result.asset_materializations_for_node("marts")


def test_on_bigquery_the_checks_count_the_runs_rows_there(club: Club) -> None:
    """The conservation check and the group report read the configured warehouse: on BigQuery
    (the emulator) the home's DuckDB file is never written, so a count from it would be 0."""
    on_bq = {
        "warehouse_uri": f"bigquery://trackline-test/dag_{uuid.uuid4().hex[:12]}",
        "bigquery_endpoint": require("bigquery"),
        "http_timeout_seconds": 20,
    }
    result = materialize(club, ["fetched", *DATASETS, "group_report"], **on_bq)
    assert result.success
    found = checks(result)
    assert set(found) == {(d, c) for d in DATASETS for c in ("rejected_share", "conservation")}
    assert all(e.passed for e in found.values())
    listens = found[("listens", "conservation")].metadata
    assert listens["in_warehouse"].value == listens["valid"].value > 0
    report = result.asset_materializations_for_node("group_report")[0].metadata
    assert report["plays"].value == {"ana": 40, "ben": 40, "cy": 0}
    assert not club.settings.warehouse.exists()


def test_the_example_definitions_load(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import runpy

    monkeypatch.setenv("TRACKLINE_HOME", str(tmp_path / "home"))
    path = Path(__file__).resolve().parents[2] / "examples" / "dagster" / "definitions.py"
    defs = runpy.run_path(str(path))["defs"]
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == {"fetched", "group_report", *DATASETS, *MARTS}
