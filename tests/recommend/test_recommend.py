"""Recommenders exclude what was played, follow taste, explain themselves, and repeat exactly."""

from __future__ import annotations

import random
from collections.abc import Iterator

import duckdb
import pytest

from tests.analytics.conftest import small_group  # noqa: F401  (fixture)
from trackline.config import Settings
from trackline.core import duck
from trackline.errors import UsageError
from trackline.recommend import base
from trackline.recommend.service import recommend

ROCK = [f"rock{i:02d}" for i in range(12)]
JAZZ = [f"jazz{i:02d}" for i in range(12)]


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """20 listeners in two taste clusters; each played 6 tracks of their own cluster."""
    rng = random.Random(7)
    rows = []
    for cluster, tracks in (("rock", ROCK), ("jazz", JAZZ)):
        for u in range(10):
            for t in rng.sample(tracks, 6):
                rows += [(f"{cluster}_{u}", t)] * rng.randint(1, 3)
    c = duck.connect()
    c.execute("CREATE TABLE plays_source (user_id VARCHAR, track_id VARCHAR)")
    c.executemany("INSERT INTO plays_source VALUES (?, ?)", rows)
    yield c
    c.close()


def played(con: duckdb.DuckDBPyConnection, user: str) -> set[str]:
    rows = con.execute("SELECT track_id FROM plays_source WHERE user_id = ?", [user]).fetchall()
    return {r[0] for r in rows}


@pytest.mark.parametrize("method", ["knn", "als"])
def test_excludes_played_and_follows_taste(con: duckdb.DuckDBPyConnection, method: str) -> None:
    recs = base.get(method, seed=3).recommend(con, ["rock_0"], 5)
    ids = [r.track_id for r in recs]
    assert len(ids) == 5 == len(set(ids))
    assert not set(ids) & played(con, "rock_0")
    assert sum(t.startswith("rock") for t in ids) >= 4
    assert all(r.reason for r in recs)


@pytest.mark.parametrize("method", ["knn", "als"])
def test_same_seed_same_list(con: duckdb.DuckDBPyConnection, method: str) -> None:
    first = base.get(method, seed=11).recommend(con, ["jazz_3"], 10)
    second = base.get(method, seed=11).recommend(con, ["jazz_3"], 10)
    assert first == second


def test_knn_reasons_count_similar_listeners(con: duckdb.DuckDBPyConnection) -> None:
    recs = base.get("knn").recommend(con, ["rock_0"], 3)
    assert all(r.reason.startswith("listened to by ") for r in recs)
    assert all("with similar taste" in r.reason for r in recs)


def test_group_excludes_what_every_member_played(con: duckdb.DuckDBPyConnection) -> None:
    group = ["rock_0", "rock_1"]
    recs = base.get("knn").recommend(con, group, 10)
    both = played(con, "rock_0") & played(con, "rock_1")
    ids = {r.track_id for r in recs}
    assert not ids & both
    some = (played(con, "rock_0") | played(con, "rock_1")) - both
    in_group = [r for r in recs if r.track_id in some]
    assert in_group
    assert all(r.reason == "listened to by 1 of your group" for r in in_group)


def test_new_listener_gets_popular_tracks(con: duckdb.DuckDBPyConnection) -> None:
    recs = base.get("knn").recommend(con, ["newcomer"], 3)
    assert len(recs) == 3
    assert {r.reason for r in recs} == {"popular with everyone"}
    top = con.execute(
        "SELECT track_id FROM plays_source GROUP BY track_id "
        "ORDER BY count(DISTINCT user_id) DESC, track_id LIMIT 1"
    ).fetchone()
    assert top is not None and recs[0].track_id == top[0]


def test_unknown_method_names_the_known_ones() -> None:
    with pytest.raises(UsageError, match="known: als, knn"):
        base.get("svd")


def test_service_reads_the_warehouse(small_group: Settings) -> None:  # noqa: F811
    recs = recommend(small_group, ["ana"], n=5)
    ids = [r.track_id for r in recs]
    assert not set(ids) & {"t1", "t2", "t3"}  # ana played these
    assert ids[0] == "t4"  # ben shares t1 with ana and played t4 twice
    assert recs[0].track_name == "Track t4" and recs[0].artist_name == "C"
    assert set(ids) == {"t4", "t5"}  # nothing else exists
    with pytest.raises(UsageError):
        recommend(small_group, ["ana"], n=0)
