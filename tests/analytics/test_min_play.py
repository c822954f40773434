"""#25 point 5: a listen under `min_play_ms` is kept but is not a play in group analytics
(top tracks, who listened most, the blend); skips are marked and counted."""

from __future__ import annotations

from pathlib import Path

from tests.analytics.short_plays import build
from tests.warehouse_rows import warehouse_rows
from trackline.analytics.group_listening import analyse_group


def test_short_listens_are_kept_but_are_not_plays(tmp_path: Path) -> None:
    settings = build(tmp_path)
    assert settings.min_play_ms == 30_000
    assert warehouse_rows(settings, "SELECT count(*) FROM listens WHERE track_id = 't9'") == [
        (6,)
    ]  # kept in the warehouse
    report = analyse_group(settings, ["ana", "ben", "cai"])
    ana = report["per_member"]["ana"]
    assert (ana["plays"], ana["short_listens"], ana["skips"]) == (3, 5, 5)
    assert [t["track_id"] for t in ana["top_tracks"]] == ["t1"]
    top = {t["track_id"]: t for t in report["group_top_tracks"]}
    # who listened most to t9: ben's one real play, not ana's five 10-second listens
    assert (top["t9"]["plays"], top["t9"]["top_listener"]) == (1, "ben")
    assert top["t1"]["plays"] == 5
    pair = next(p for p in report["overlap"] if (p["user_a"], p["user_b"]) == ("ana", "ben"))
    assert pair["shared_tracks"] == 1  # t1 only: ana never played t9


def test_the_threshold_is_a_setting(tmp_path: Path) -> None:
    settings = build(tmp_path, min_play_ms=0)
    report = analyse_group(settings, ["ana", "ben"])
    ana = report["per_member"]["ana"]
    assert (ana["plays"], ana["short_listens"], ana["skips"]) == (8, 0, 5)
    assert ana["top_tracks"][0]["track_id"] == "t9"
    top = {t["track_id"]: t for t in report["group_top_tracks"]}
    assert (top["t9"]["plays"], top["t9"]["top_listener"]) == (6, "ana")
