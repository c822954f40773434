"""Group analytics on a hand-built group: every answer was worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackline.analytics.group_listening import analyse_group
from trackline.analytics.members import members, resolve, set_members
from trackline.config import Settings
from trackline.errors import UsageError

USERS = ["ana", "ben", "cai"]


def test_per_member_top_tracks_and_artists(small_group: Settings) -> None:
    report = analyse_group(small_group, USERS)
    ana = report["per_member"]["ana"]
    assert ana["plays"] == 5
    assert [(t["track_id"], t["plays"], t["rank"]) for t in ana["top_tracks"]] == [
        ("t1", 3, 1),
        ("t2", 1, 2),
        ("t3", 1, 3),
    ]
    assert [(a["artist_name"], a["plays"], a["unique_tracks"]) for a in ana["top_artists"]] == [
        ("A", 4, 2),
        ("B", 1, 1),
    ]
    assert report["per_member"]["cai"]["plays"] == 3  # the skip does not count


def test_group_top_tracks_name_the_member_who_played_most(small_group: Settings) -> None:
    top = analyse_group(small_group, USERS)["group_top_tracks"]
    assert [(t["track_id"], t["plays"], t["members"], t["top_listener"]) for t in top] == [
        ("t1", 4, 2, "ana"),
        ("t4", 3, 2, "ben"),
        ("t2", 2, 2, "ana"),  # a tie between ana and cai goes to the first id
        ("t3", 1, 1, "ana"),
        ("t5", 1, 1, "cai"),
    ]


def test_pairwise_overlap_and_jaccard(small_group: Settings) -> None:
    overlap = {(o["user_a"], o["user_b"]): o for o in analyse_group(small_group, USERS)["overlap"]}
    assert set(overlap) == {("ana", "ben"), ("ana", "cai"), ("ben", "cai")}
    expected = {
        ("ana", "ben"): (1, 1, 1 / 4, 1 / 3),
        ("ana", "cai"): (1, 1, 1 / 5, 1 / 4),
        ("ben", "cai"): (1, 2, 1 / 4, 2 / 3),
    }
    for pair, (tracks, artists, tj, aj) in expected.items():
        o = overlap[pair]
        assert (o["shared_tracks"], o["shared_artists"]) == (tracks, artists)
        assert o["track_jaccard"] == pytest.approx(tj, abs=1e-4)
        assert o["artist_jaccard"] == pytest.approx(aj, abs=1e-4)


def test_blend_favours_tracks_shared_by_more_members(small_group: Settings) -> None:
    blend = analyse_group(small_group, USERS)["blend"]
    # t4: 2/3 (ben) + 1/3 (cai); t1: 3/5 (ana) + 1/3 (ben); t2: 1/5 + 1/3; then singles
    assert [b["track_id"] for b in blend] == ["t4", "t1", "t2", "t5", "t3"]
    assert blend[0]["played_by"] == ["ben", "cai"]
    assert blend[0]["score"] == pytest.approx(1.0)


def test_top_n_limits_every_list(small_group: Settings) -> None:
    report = analyse_group(small_group, USERS, top_n=1)
    assert len(report["per_member"]["ana"]["top_tracks"]) == 1
    assert len(report["group_top_tracks"]) == 1
    assert len(report["blend"]) == 1


def test_named_groups_resolve_to_members(small_group: Settings) -> None:
    set_members(small_group, "trio", ["cai", "ana", "ben", "ana"])
    assert members(small_group, "trio") == USERS
    assert resolve(small_group, "trio", None) == USERS
    assert resolve(small_group, "ignored", ["ben", "ana"]) == ["ana", "ben"]
    with pytest.raises(UsageError, match="no group or session named 'nobody'"):
        members(small_group, "nobody")
    with pytest.raises(UsageError, match="--group G or its members with --user"):
        resolve(small_group, None, None)


def test_a_registered_member_without_plays_gets_an_empty_profile(small_group: Settings) -> None:
    from trackline.state import open_state

    store = open_state(small_group)
    try:
        store.add_user("zed")
    finally:
        store.close()
    report = analyse_group(small_group, ["ana", "zed"])
    assert report["per_member"]["zed"] == {
        "plays": 0, "short_listens": 0, "skips": 0, "top_tracks": [], "top_artists": []
    }  # fmt: skip
    pair = report["overlap"][0]
    assert (pair["shared_tracks"], pair["track_jaccard"]) == (0, 0)


def test_a_member_nothing_knows_is_a_usage_error(small_group: Settings) -> None:
    with pytest.raises(UsageError, match=r"'nobody'.*users list"):
        analyse_group(small_group, ["ana", "nobody"])


def test_state_store_groups_and_sessions_resolve_and_sync(tmp_path: Path) -> None:
    """Groups live in the state store; sessions count as groups; `sync` copies both to the
    warehouse for the dbt mart."""
    from trackline.analytics.members import sync
    from trackline.core import duck
    from trackline.sessions.lifecycle import create_session
    from trackline.state import open_state
    from trackline.state.groups import create_group

    settings = Settings.load(home=tmp_path / "home")
    store = open_state(settings)
    try:
        for u in ("ana", "ben", "cai"):
            store.add_user(u)
        create_group(store, "club", ["cai", "ana"])
        session = create_session(settings, store, ["ben", "ana"])
    finally:
        store.close()
    assert members(settings, "club") == ["ana", "cai"]
    assert members(settings, session.session_id) == ["ana", "ben"]
    assert sync(settings) == 2
    con = duck.connect(settings.warehouse, read_only=True)
    try:
        rows = con.sql("SELECT group_id, user_id FROM meta.groups ORDER BY 1, 2").fetchall()
    finally:
        con.close()
    assert rows == sorted(
        [("club", "ana"), ("club", "cai"), *[(session.session_id, u) for u in ("ana", "ben")]]
    )
