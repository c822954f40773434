"""`trackline model` on a warehouse ingested from generated data: every layer builds, every dbt
test passes, and the gold layer neither loses nor doubles a row of the silver layer."""

from __future__ import annotations

from typing import Any

import pytest

from tests.models.conftest import GROUP, NOW, SIZES, Warehouse, ingest
from trackline.models import runner
from trackline.models.sources import SOURCE_DATASETS

Modelled = tuple[Warehouse, dict[str, Any]]


def test_every_model_builds_and_every_test_passes(modelled: Modelled) -> None:
    _, summary = modelled
    assert summary["ok"] is True
    assert summary["failed"] == []
    names = {n["name"] for n in summary["nodes"] if n["kind"] == "model"}
    for expected in (
        "silver_listens", "fact_cart_items", "dim_products", "dim_users", "dim_dates",
        "fact_orders", "fact_inventory_movements", "fact_user_activity",
        "user_daily_listening", "user_top_tracks", "user_top_artists", "group_overlap",
        "slice_engagement",
    ):  # fmt: skip
        assert expected in names
    kinds = {n["name"].split("_")[0] for n in summary["nodes"] if n["kind"] == "test"}
    assert {"unique", "not", "relationships", "accepted"} <= kinds
    assert summary["tests"]["passed"] > 100


def test_missing_sources_are_created_empty(modelled: Modelled) -> None:
    wh, summary = modelled
    missing = sorted(set(SOURCE_DATASETS) - set(SIZES))
    assert sorted(summary["created_sources"]) == missing
    assert wh.one("SELECT count(*) FROM silver.playlist_tracks") == 0


@pytest.mark.parametrize(
    ("bronze", "silver", "gold", "measure"),
    [
        ("orders", "silver.orders", "gold.fact_orders", "total_amount"),
        ("inventory", "silver.inventory", "gold.fact_inventory_movements", "quantity_change"),
        ("user_activity", "silver.user_activity", "gold.fact_user_activity", "duration_seconds"),
        ("carts", "silver.carts", "gold.fact_cart_items", "quantity"),
    ],
)
def test_facts_reconcile_with_silver(
    modelled: Modelled, bronze: str, silver: str, gold: str, measure: str
) -> None:
    wh, _ = modelled
    b = wh.one(f"SELECT count(*) FROM main.{bronze}")
    s_n, s_sum = wh.rows(f"SELECT count(*), sum({measure}) FROM {silver}")[0]
    g_n, g_sum = wh.rows(f"SELECT count(*), sum({measure}) FROM {gold}")[0]
    assert b > 0
    assert b == s_n == g_n
    assert s_sum == pytest.approx(g_sum)


def test_dimensions_cover_every_fact_row(modelled: Modelled) -> None:
    wh, _ = modelled
    inferred = wh.one("SELECT count(*) FROM gold.dim_products WHERE is_inferred")
    named = wh.one(
        "SELECT count(DISTINCT product_id) FROM main.carts "
        "WHERE product_id NOT IN (SELECT id FROM main.products)"
    )
    assert inferred == named > 0
    lines = wh.one(
        "SELECT count(*) FROM gold.fact_cart_items f "
        "JOIN gold.dim_products p USING (product_id) JOIN gold.dim_users u USING (user_id) "
        "JOIN gold.dim_dates d USING (date_key)"
    )
    assert lines == wh.one("SELECT count(*) FROM main.carts")
    priced = wh.one("SELECT count(*) FROM gold.fact_cart_items WHERE line_amount IS NOT NULL")
    assert priced == wh.one(
        "SELECT count(*) FROM main.carts WHERE product_id IN (SELECT id FROM main.products)"
    )


#: bronze listens, one row per play by the second (v1 rows kept milliseconds)
PLAYS = (
    "(SELECT DISTINCT ON (user_id, date_trunc('second', played_at), track_id) * FROM main.listens)"
)


def test_music_marts_reconcile(modelled: Modelled) -> None:
    wh, _ = modelled
    listens, minutes = wh.rows(f"SELECT count(*), sum(minutes_played) FROM {PLAYS}")[0]
    counted = wh.one(f"SELECT count(*) FROM {PLAYS} WHERE coalesce(ms_played >= 30000, true)")
    assert 0 < counted < listens  # the generated data has listens too short to be plays
    events = wh.one("SELECT count(*) FROM main.listening_events")
    app_plays = wh.one("SELECT count(*) FROM main.listening_events WHERE event_type = 'play'")
    total, plays, mins = wh.rows(
        "SELECT sum(total_events), sum(plays), sum(minutes) FROM marts.user_daily_listening"
    )[0]
    assert total == listens + events
    assert plays == counted + app_plays
    short = wh.one(
        "SELECT count(*) FROM silver.listening_activity WHERE origin = 'listens' AND NOT is_play"
    )
    assert short == listens - counted
    assert mins == pytest.approx(minutes)
    assert wh.one("SELECT sum(plays) FROM marts.user_top_tracks") == plays
    assert wh.one("SELECT sum(plays) FROM marts.slice_engagement WHERE slice_name = 'genre'") == (
        plays
    )
    share = wh.one("SELECT sum(play_share) FROM marts.slice_engagement WHERE slice_name='country'")
    assert share == pytest.approx(1.0)
    # unique songs per user and day, recomputed straight from bronze for one user
    user, day, unique = wh.rows(
        "SELECT user_id, listen_date, unique_songs FROM marts.user_daily_listening "
        "ORDER BY total_events DESC, user_id LIMIT 1"
    )[0]
    expected = wh.one(
        "SELECT count(DISTINCT t) FROM ("
        f"  SELECT track_id t FROM main.listens WHERE user_id = '{user}' "
        f"    AND CAST(timezone('UTC', played_at) AS DATE) = DATE '{day}' "
        f"  UNION ALL SELECT song_id FROM main.listening_events WHERE user_id = '{user}' "
        f"    AND CAST(timezone('UTC', timestamp) AS DATE) = DATE '{day}')"
    )
    assert unique == expected


def test_group_overlap_matches_set_arithmetic(modelled: Modelled) -> None:
    wh, _ = modelled
    rows = wh.rows(
        "SELECT user_a, user_b, shared_tracks, track_jaccard FROM marts.group_overlap "
        "WHERE group_id = 'friends' ORDER BY 1, 2"
    )
    assert len(rows) == len(GROUP) * (len(GROUP) - 1) // 2
    tracks: dict[str, set[str]] = {}
    for u in GROUP:
        tracks[u] = {
            r[0]
            for r in wh.rows(
                "SELECT track_id FROM main.listens WHERE user_id = ? "
                "AND coalesce(ms_played >= 30000, true) UNION "
                "SELECT song_id FROM main.listening_events WHERE user_id = ? "
                "AND event_type = 'play'",
                [u, u],
            )
        }
    for a, b, shared, jaccard in rows:
        both = tracks[a] & tracks[b]
        assert shared == len(both)
        either = tracks[a] | tracks[b]
        assert jaccard == pytest.approx(len(both) / len(either) if either else None)


def test_a_play_stored_by_v1_and_v2_is_one_activity_row(modelled: Modelled) -> None:
    wh, _ = modelled
    assert wh.one("SELECT count(*) FROM main.listens WHERE run_id = 'v1'") == 1
    assert wh.one("SELECT count(*) FROM silver.listening_activity WHERE origin = 'listens'") == (
        wh.one(f"SELECT count(*) FROM {PLAYS}")
    )
    bronze = wh.one("SELECT count(*) FROM main.listens")
    assert wh.one(f"SELECT count(*) FROM {PLAYS}") == bronze - 1


def test_incremental_run_adds_late_events_once(modelled: Modelled) -> None:
    wh, _ = modelled
    before = wh.one("SELECT count(*) FROM silver.listens")
    # a second batch whose events happened earlier than much of what is already loaded
    ingest(wh.settings, wh.home.parent / "data", "listens", 500, seed=2)
    proc = wh.cli("model", "--select", "silver_listens+", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    bronze = wh.one("SELECT count(*) FROM main.listens")
    assert bronze > before
    assert wh.one("SELECT count(*) FROM silver.listens") == bronze
    assert wh.one("SELECT count(DISTINCT record_key) FROM silver.listens") == bronze
    assert wh.one("SELECT sum(plays) FROM marts.user_top_tracks") == wh.one(
        "SELECT count(*) FROM silver.listening_activity WHERE is_play"
    )
    assert NOW  # the batches share a clock: times are late, not in the future


def test_bigquery_target_parses_with_partitioning_and_clustering(
    warehouse: Warehouse,
) -> None:
    run = runner.invoke(warehouse.settings, "parse", target="bigquery")
    assert run.ok
    orders = run.configs["fact_orders"]
    assert orders["partition_by"] == {
        "field": "order_date",
        "data_type": "timestamp",
        "granularity": "day",
    }
    assert orders["cluster_by"] == ["status"]
    assert run.configs["fact_inventory_movements"]["cluster_by"] == ["reason"]
    assert run.configs["fact_user_activity"]["cluster_by"] == ["activity_type"]
    assert run.configs["silver_listens"]["materialized"] == "incremental"
    local = runner.invoke(warehouse.settings, "parse")
    assert local.configs["fact_orders"]["partition_by"] is None


def test_unknown_target_is_a_usage_error(warehouse: Warehouse) -> None:
    from trackline.errors import UsageError

    with pytest.raises(UsageError, match="unknown dbt target"):
        runner.invoke(warehouse.settings, "parse", target="snowflake")
