"""Spotify's 2026 shapes (#25 points 1 and 3) against the fake over real HTTP, in both API modes:
Development Mode (`/items`, `item`, removed fields, the batch artists endpoint refused) and
Extended Quota (`/tracks`, `track`, every field). Episodes go to `episodes`, local files are
rejected from `playlist_tracks` with `rule:local_file`, and recently played pages by `next`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.sources.conftest import connect
from tests.warehouse_rows import warehouse_rows
from trackline.config import Settings
from trackline.fakeapi import FakeAPI, serve
from trackline.fakeapi.spotify_data import EPISODES, LOCAL
from trackline.pipelines.fetch import UserFetchResult, fetch_user, fetch_users
from trackline.state import StateStore, open_state


def _rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    return warehouse_rows(settings, sql)


def _balanced(result: UserFetchResult) -> None:
    """Everything fetched is accounted for: in = valid + rejected + duplicates."""
    for dataset, n in result.fetched.items():
        got = result.added[dataset] + result.rejected[dataset] + result.duplicates[dataset]
        assert got == n, dataset


@pytest.fixture(params=[False, True], ids=["dev_mode", "extended_quota"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[FakeAPI, Settings]]:
    with serve(FakeAPI.create(extras=True, extended_quota=request.param)) as fake:
        settings = Settings.load(
            home=tmp_path / "home",
            http_backoff_seconds=0.01,
            http_backoff_max_seconds=0.05,
            **fake.settings_overrides(),
        )
        yield fake, settings


@pytest.fixture
def world_store(world: tuple[FakeAPI, Settings]) -> Iterator[StateStore]:
    state = open_state(world[1])
    try:
        yield state
    finally:
        state.close()


def test_episodes_local_files_and_null_names_in_both_modes(
    world: tuple[FakeAPI, Settings], world_store: StateStore
) -> None:
    fake, settings = world
    connect(fake, world_store, "ava")
    result = fetch_user(settings, "spotify", "ava", state=world_store)
    assert result.status == "ok", result.error
    _balanced(result)
    used = "tracks" if fake.spotify.extended_quota else "items"
    assert fake.spotify.calls[used] == 3 and set(fake.spotify.calls) & {"items", "tracks"} == {used}
    first = fake.spotify.playlist_ids("ava")[0]
    # episodes: one from the playlist, one from the recent plays; never mixed into tracks
    assert result.added["episodes"] == 2
    eps = _rows(
        settings,
        "SELECT context, episode_id, episode_name, show_name, playlist_id, played_at IS NULL, "
        "added_at IS NULL FROM episodes ORDER BY context DESC",
    )
    ep, played = EPISODES
    assert eps[0] == (f"playlist:{first}", ep.id, ep.name, ep.show, first, True, False)
    assert eps[1][0].startswith("play@") and eps[1][1:4] == (played.id, played.name, played.show)
    assert eps[1][5] is False
    for table in ("listens", "playlist_tracks", "top_tracks"):
        ids = {r[0] for r in _rows(settings, f"SELECT DISTINCT track_id FROM {table}")}
        assert not ids & {e.id for e in EPISODES}, table
        assert not any(i.startswith("spotify:") for i in ids), table  # bare ids only
    assert result.added["listens"] == 48  # the 50-play window less the episode and local file
    # the local files: rejected with a reason, each record kept with its source line
    assert result.rejected_by_reason["playlist_tracks"] == {"rule:local_file": 1}
    assert result.rejected_by_reason["listens"] == {"required:track_id": 1}
    rejected = _rows(
        settings, "SELECT dataset, record, source_line FROM meta.rejected ORDER BY dataset"
    )
    assert [r[0] for r in rejected] == ["listens", "playlist_tracks"]
    for _, record, line in rejected:
        assert LOCAL.uri in record and LOCAL.name in record and line >= 1
    # a track whose name is null is still a track, with a NULL name
    unnamed = _rows(
        settings,
        f"SELECT count(*) FROM playlist_tracks WHERE playlist_id = '{first}' "
        "AND track_name IS NULL AND track_id IS NOT NULL",
    )
    assert unnamed == [(1,)]


def test_removed_fields_are_null_in_dev_mode_and_kept_in_extended_quota(
    world: tuple[FakeAPI, Settings], world_store: StateStore
) -> None:
    fake, settings = world
    extended = fake.spotify.extended_quota
    connect(fake, world_store, "ben")
    result = fetch_user(settings, "spotify", "ben", state=world_store)
    assert result.status == "ok", result.error
    assert sum(result.rejected.values()) == 2  # the two local files, nothing else
    checks = {
        "SELECT count(popularity) FROM top_tracks": 150,
        "SELECT count(followers) + count(popularity) FROM top_artists": 300,
        "SELECT count(popularity) FROM playlist_tracks": result.added["playlist_tracks"],
        "SELECT count(account_country) FROM listens": 48,  # /me `country`
    }
    for sql, when_present in checks.items():
        assert _rows(settings, sql) == [(when_present if extended else 0,)], sql
    # what stays in both modes
    assert _rows(settings, "SELECT count(genre) > 0 FROM listens") == [(True,)]
    assert _rows(settings, "SELECT count(*) FROM top_artists WHERE genres IS NULL") == [(0,)]


def test_refused_batch_artists_fall_back_to_single_calls_cached_for_the_run(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    """Development Mode refuses `GET /artists?ids=` (403): genres come from one call per
    artist, the batch is tried once per run and each artist asked at most once."""
    for u in ("cat", "dan"):
        connect(fake, store, u)
    summary = fetch_users(settings, "spotify", ["cat", "dan"], state=store)
    by_user = {r.user_id: r for r in summary.results}
    assert all(r.status == "ok" for r in by_user.values()), summary.as_dict()
    assert summary.http["by_status"].get("403") == 1  # the batch, once for both users
    for r in by_user.values():
        assert any("GET /artists?ids= is refused" in n for n in r.notes)
    assert _rows(settings, "SELECT count(*), count(genre) FROM listens") == [(100, 100)]
    asked = {u: _artists_of(fake, u) for u in ("cat", "dan")}
    union = asked["cat"] | asked["dan"]
    assert len(union) < len(asked["cat"]) + len(asked["dan"])  # they share artists
    assert fake.spotify.calls["artist"] == len(union)  # each asked once in the run
    assert fake.spotify.calls["artists"] == 1


def _artists_of(fake: FakeAPI, user: str) -> set[str]:
    u = fake.spotify.user(user)
    entries = [t for _, t in u.plays[-50:]] + [t for _, _, ts in u.playlists for t in ts]
    return {t.artist.id for t in entries}


def test_extended_quota_uses_the_batch_endpoint(tmp_path: Path) -> None:
    with serve(FakeAPI.create(extended_quota=True)) as fake:
        settings = Settings.load(home=tmp_path / "home", **fake.settings_overrides())
        store = open_state(settings)
        try:
            connect(fake, store, "eve")
            summary = fetch_users(settings, "spotify", ["eve"], state=store)
        finally:
            store.close()
        calls = dict(fake.spotify.calls)
    [r] = summary.results
    assert r.status == "ok" and not any("refused" in n for n in r.notes)
    assert "403" not in summary.http["by_status"]
    assert calls["tracks"] == 3 and "items" not in calls  # the older endpoint, as the summary says
    assert "artist" not in calls and 1 <= calls["artists"] <= 3  # 50 ids a call


def test_recently_played_pages_by_next_and_the_gap_note_fires_with_a_next_link(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    """Pages of 20 (each full one with a `next` link): the first run reads the 50-play window
    over three pages; 30 new plays come over two pages with no gap; 60 new plays fill the
    window and the gap note fires although the pages carried `next`."""
    fake.spotify.page_size = 20
    connect(fake, store, "fay")
    first = fetch_user(settings, "spotify", "fay", state=store)
    assert first.fetched["listens"] == first.added["listens"] == 50
    assert not any("gap" in n for n in first.notes)  # a first run has nothing to miss
    fake.spotify.add_plays("fay", 30)
    second = fetch_user(settings, "spotify", "fay", state=store)
    assert second.fetched["listens"] == second.added["listens"] == 30
    assert not any("gap" in n for n in second.notes)
    fake.spotify.add_plays("fay", 60)
    third = fetch_user(settings, "spotify", "fay", state=store)
    assert third.fetched["listens"] == third.added["listens"] == 50
    assert any("gap" in n for n in third.notes)
    assert _rows(settings, "SELECT count(*) FROM listens") == [(130,)]


def test_a_full_single_page_with_a_next_link_still_reports_the_gap(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    """Spotify puts `next` on a full page of 50 even when nothing older is left; the old
    check (one page only) never fired then."""
    connect(fake, store, "gus")
    fetch_user(settings, "spotify", "gus", state=store)
    fake.spotify.add_plays("gus", 50)
    again = fetch_user(settings, "spotify", "gus", state=store)
    assert again.fetched["listens"] == 50
    assert any("gap" in n for n in again.notes)
    fake.spotify.add_plays("gus", 49)
    last = fetch_user(settings, "spotify", "gus", state=store)
    assert last.fetched["listens"] == 49 and not any("gap" in n for n in last.notes)
