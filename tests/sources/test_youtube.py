"""YouTube against the fake over real HTTP (#25 point 6): playlist item times, hidden likes and
disabled comments, and the two 403s (quota spent for the day vs a transient rate limit)."""

from __future__ import annotations

from tests.sources.conftest import connect
from tests.warehouse_rows import warehouse_rows
from trackline.config import Settings
from trackline.core import duck
from trackline.fakeapi import FakeAPI
from trackline.pipelines.fetch import fetch_user
from trackline.state import StateStore


def test_item_added_and_video_published_times(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    connect(fake, store, "yara", "youtube")
    result = fetch_user(settings, "youtube", "yara", state=store)
    assert result.status == "ok", result.error
    rows = warehouse_rows(
        settings,
        "SELECT count(*), count(added_at), count(video_published_at), "
        "count(DISTINCT added_at), min(added_at) FROM playlist_tracks",
    )
    total, added, published, distinct, first = rows[0]
    assert total == added == published > 0
    assert distinct > 1  # each item's own time, not one constant
    assert first.year == 2024  # the fake adds items from 2024 on, videos were published before
    late = "SELECT count(*) FROM playlist_tracks WHERE video_published_at > added_at"
    assert warehouse_rows(settings, late)[0][0] == 0


def test_hidden_likes_and_disabled_comments_stay_null(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    connect(fake, store, "hana", "youtube")
    vids = [v for _, _, ids in fake.youtube.lists("hana") for v in ids]
    vids = [v for v in vids if (x := fake.youtube.video(v)) and x.likes and x.comments]
    fake.youtube.hide(vids[0], likes=True, comments=False)
    fake.youtube.hide(vids[1], likes=False, comments=True)
    result = fetch_user(settings, "youtube", "hana", state=store)
    assert result.status == "ok", result.error
    assert sum(result.rejected.values()) == 0
    got = {
        r[0]: r[1:]
        for r in warehouse_rows(
            settings,
            "SELECT track_id, like_count, comment_count, like_to_view_ratio, "
            "comment_to_view_ratio, view_count FROM playlist_tracks",
        )
    }
    likes, comments, like_ratio, comment_ratio, views = got[vids[0]]
    assert likes is None and like_ratio is None and views > 0
    v1 = fake.youtube.video(vids[0])
    assert v1 is not None and v1.comments is not None
    assert comments == v1.comments and comment_ratio is not None and comment_ratio > 0
    likes, comments, like_ratio, comment_ratio, _ = got[vids[1]]
    assert comments is None and comment_ratio is None
    assert likes is not None and like_ratio is not None


def test_quota_exceeded_stops_for_the_day_without_retrying(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    connect(fake, store, "quin", "youtube")
    connect(fake, store, "quade", "youtube")
    fake.youtube.refuse("quotaExceeded")
    result = fetch_user(settings, "youtube", "quin", state=store)
    assert result.status == "rate_limited"
    assert "quotaExceeded" in (result.error or "") and "midnight Pacific" in (result.error or "")
    assert fake.youtube.used == 0  # not retried: a second try would have been answered
    # the day's quota is spent for the whole project: the next user sends nothing
    other = fetch_user(settings, "youtube", "quade", state=store)
    assert other.status == "rate_limited" and other.requests == 0
    assert fake.youtube.used == 0


def test_rate_limit_exceeded_is_retried_and_noted(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    connect(fake, store, "rafa", "youtube")
    fake.youtube.refuse("rateLimitExceeded", times=2)
    result = fetch_user(settings, "youtube", "rafa", state=store)
    assert result.status == "ok", result.error
    assert result.added["playlist_tracks"] > 0
    assert any("rateLimitExceeded" in n and "2 call(s) retried" in n for n in result.notes)


def test_rate_limit_that_never_clears_is_a_transient_failure(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    connect(fake, store, "remy", "youtube")
    fake.youtube.refuse("rateLimitExceeded", times=100)
    result = fetch_user(settings, "youtube", "remy", state=store)
    assert result.status == "error"  # the one endpoint failed; not the day's quota
    assert "403 rateLimitExceeded" in (result.error or "")
    assert "run the fetch again later" in (result.error or "")


def test_a_version_1_table_gains_the_new_column(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    connect(fake, store, "vera", "youtube")
    connect(fake, store, "vito", "youtube")
    assert fetch_user(settings, "youtube", "vera", state=store).status == "ok"
    con = duck.connect(settings.warehouse)
    try:  # the table as contract version 1 made it
        con.execute("ALTER TABLE playlist_tracks DROP COLUMN video_published_at")
    finally:
        con.close()
    result = fetch_user(settings, "youtube", "vito", state=store)
    assert result.status == "ok", result.error
    rows = warehouse_rows(
        settings,
        "SELECT user_id, count(video_published_at) FROM playlist_tracks GROUP BY 1 ORDER BY 1",
    )
    assert rows[0] == ("vera", 0) and rows[1][0] == "vito" and rows[1][1] > 0
