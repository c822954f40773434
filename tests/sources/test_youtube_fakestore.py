"""YouTube (statistics, durations, quota) and Fake Store (not found, carts, spool) connectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sources.conftest import connect
from trackline.config import Settings
from trackline.core import duck
from trackline.core.http import HttpClient
from trackline.fakeapi import FakeAPI
from trackline.pipelines.fetch import fetch_user, flush_spool
from trackline.sources.fakestore import FakeStore
from trackline.sources.spool import pending
from trackline.sources.youtube import duration_seconds
from trackline.state import StateStore


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT4M13S", 253), ("PT1H2M3S", 3723), ("P1DT5M", 86700), ("P0D", 0), ("PT45S", 45),
     ("PT", None), ("4:13", None), (None, None), ("PT1.5S", 1.5)],
)  # fmt: skip
def test_iso8601_durations(text: str | None, seconds: float | None) -> None:
    assert duration_seconds(text) == seconds


def test_youtube_playlists_with_optional_statistics(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    connect(fake, store, "yuki", "youtube")
    result = fetch_user(settings, "youtube", "yuki", state=store)
    assert result.status == "ok", result.error
    n = result.added["playlist_tracks"]
    assert n == result.fetched["playlist_tracks"] > 0
    con = duck.connect(settings.warehouse, read_only=True)
    try:
        row = con.execute(
            "SELECT count(*), count(like_count), count(comment_count), min(duration_ms), "
            "count(*) FILTER (source = 'youtube') FROM playlist_tracks"
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    total, likes, comments, min_ms, yt = row
    assert total == yt == n
    assert likes < total or comments < total  # absent statistics stay NULL, not 0
    assert min_ms > 0


def test_youtube_quota_stops_before_the_budget(
    fake: FakeAPI, store: StateStore, tmp_path: Path
) -> None:
    settings = Settings.load(
        home=tmp_path / "h", youtube_daily_quota=3, **fake.settings_overrides()
    )
    connect(fake, store, "zed", "youtube")
    result = fetch_user(settings, "youtube", "zed", state=store)
    assert result.status == "rate_limited"
    assert "stops before exceeding" in (result.error or "")
    assert fake.youtube.used == 3  # three calls made, the fourth never sent
    docs = [store.get_doc("youtube_quota", d) for d in _days()]
    assert any(d and d["used"] == 3 for d in docs)


def _days() -> list[str]:
    from datetime import UTC, datetime, timedelta

    today = datetime.now(UTC).date()
    return [(today + timedelta(days=d)).isoformat() for d in (-1, 0, 1)]


def test_fakestore_unknown_id_is_not_found_and_dates_filter(fake: FakeAPI) -> None:
    with HttpClient() as http:
        api = FakeStore(http, f"{fake.base_url}/fakestore")
        assert api.product(999) is None
        assert api.product(3) is not None and api.product(3)["id"] == 3  # type: ignore[index]
        assert api.user(0) is None and api.cart(12345) is None
        everything = api.carts()
        from datetime import date

        some = api.carts(date(2020, 1, 1), date(2020, 1, 31))
        assert len(everything) == 7
        assert all("2020-01-01" <= c["date"][:10] <= "2020-01-31" for c in some)
        assert len(some) < len(everything)


def test_fakestore_fetch_twice_adds_nothing_and_drops_passwords(
    fake: FakeAPI, settings: Settings
) -> None:
    first = fetch_user(settings, "fakestore", "fakestore")
    assert first.status == "ok", first.error
    assert first.added == {"products": 20, "users": 10, "carts": first.fetched["carts"]}
    second = fetch_user(settings, "fakestore", "fakestore")
    assert sum(second.added.values()) == 0
    for p in Path(settings.lake).rglob("*.ndjson*"):
        assert "password" not in p.read_bytes().decode(errors="replace")


def test_unreachable_lake_spools_and_flush_replays(fake: FakeAPI, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the lake should be")
    bad = Settings.load(
        home=tmp_path / "home", lake_uri=str(blocker / "lake"), **fake.settings_overrides()
    )
    result = fetch_user(bad, "fakestore", "fakestore")
    assert result.status == "spooled"
    assert "trackline spool flush" in (result.error or "")
    batches = pending(bad)
    assert len(batches) == 1 and set(batches[0].files()) == {"products", "users", "carts"}
    assert flush_spool(bad)[0].status == "spooled"  # still unreachable: still kept
    assert len(pending(bad)) == 1
    good = Settings.load(home=tmp_path / "home", **fake.settings_overrides())
    flushed = flush_spool(good)
    assert flushed[0].added["products"] == 20 and flushed[0].added["users"] == 10
    assert pending(good) == []
    assert flush_spool(good) == []
