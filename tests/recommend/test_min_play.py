"""#25 point 5: a listen under `min_play_ms` is not a play for recommendations: it neither
excludes the track nor shapes taste."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.analytics.short_plays import build
from trackline.recommend.service import recommend


@pytest.mark.parametrize("method", ["knn", "als"])
def test_a_track_only_skimmed_can_still_be_recommended(tmp_path: Path, method: str) -> None:
    settings = build(tmp_path)
    ids = {r.track_id for r in recommend(settings, ["ana"], n=5, method=method)}
    assert "t9" in ids  # ana's five 10-second listens are not plays
    assert "t1" not in ids  # played three times


def test_with_no_threshold_every_listen_is_a_play(tmp_path: Path) -> None:
    settings = build(tmp_path, min_play_ms=0)
    ids = {r.track_id for r in recommend(settings, ["ana"], n=5)}
    assert ids == {"t7"}  # t1 and t9 were played
