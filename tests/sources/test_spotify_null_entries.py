"""A `null` entry in a page (Spotify sends one for an entry it cannot show) is never dropped
unseen: over real HTTP against the fake (its `null:<i>` fault), each one becomes a rejected
record (`malformed`, its text kept) with a note naming the endpoint, and every other entry of
the page is stored as it would have been without the null."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.sources.conftest import connect
from tests.warehouse_rows import warehouse_rows
from trackline.config import Settings
from trackline.fakeapi import FakeAPI, serve
from trackline.pipelines.fetch import UserFetchResult, fetch_user
from trackline.state import open_state

SPOTIFY = "/spotify/v1"


def _fetch(fake: FakeAPI, home: Path, user: str) -> tuple[Settings, UserFetchResult]:
    settings = Settings.load(
        home=home, http_backoff_seconds=0.01, http_backoff_max_seconds=0.05,
        **fake.settings_overrides(),
    )  # fmt: skip
    store = open_state(settings)
    try:
        connect(fake, store, user)
        return settings, fetch_user(settings, "spotify", user, state=store)
    finally:
        store.close()


def _set(settings: Settings, sql: str) -> set[tuple[Any, ...]]:
    return set(warehouse_rows(settings, sql))


def test_a_null_entry_is_a_rejected_record_and_the_rest_of_the_page_is_kept(
    tmp_path: Path,
) -> None:
    with serve(FakeAPI.create()) as fake:
        # the same user's world fetched twice: without faults, then with a null in four pages
        clean, whole = _fetch(fake, tmp_path / "clean", "ivy")
        assert whole.status == "ok" and not whole.rejected_by_reason, whole
        first = fake.spotify.playlist_ids("ivy")[0]
        fake.faults.script(f"{SPOTIFY}/me/player/recently-played", ["null:3"])
        fake.faults.script(f"{SPOTIFY}/me/top/tracks", ["null:0"])  # short_term, rank 1
        fake.faults.script(f"{SPOTIFY}/playlists/{first}/items", ["null:1"])
        fake.faults.script(f"{SPOTIFY}/me/playlists", ["null:2"])
        faulty, result = _fetch(fake, tmp_path / "faulty", "ivy")

    assert result.status == "ok", result.error
    for dataset, n in result.fetched.items():  # in = valid + rejected + duplicates
        got = result.added[dataset] + result.rejected[dataset] + result.duplicates[dataset]
        assert got == n, dataset
    assert result.rejected_by_reason == {
        "listens": {"malformed": 1},
        "top_tracks": {"malformed": 1},
        "playlist_tracks": {"malformed": 2},  # one in a playlist's items, one playlist
    }
    for endpoint in ("recently_played", "top_tracks:short_term", f"playlist:{first}", "playlists"):
        assert any(n.startswith(f"{endpoint}: 1 entry") for n in result.notes), endpoint
    rejected = warehouse_rows(faulty, "SELECT dataset, record, reasons FROM meta.rejected")
    assert sorted(rejected) == sorted(
        (d, "null", ["malformed"])
        for d in ("listens", "top_tracks", "playlist_tracks", "playlist_tracks")
    )

    # recently played: exactly the 4th newest play is missing, every other play is stored
    plays = "SELECT played_at, track_id FROM listens"
    newest = warehouse_rows(clean, plays + " ORDER BY played_at DESC")
    assert _set(clean, plays) - _set(faulty, plays) == {newest[3]}
    assert _set(faulty, plays) < _set(clean, plays)
    # top tracks: rank 1 of short_term is gone and every other entry keeps its rank
    top = "SELECT time_range, rank, track_id FROM top_tracks"
    lost = {r for r in _set(clean, top) if r[:2] == ("short_term", 1)}
    assert len(lost) == 1 and _set(faulty, top) == _set(clean, top) - lost
    # playlists: the first playlist lost its 2nd entry, the third playlist (a null in the
    # list of playlists) is not read, the second is whole
    entries = "SELECT playlist_id, track_id FROM playlist_tracks"
    third = fake.spotify.playlist_ids("ivy")[2]
    gone = _set(clean, entries) - _set(faulty, entries)
    assert {p for p, _ in gone} == {first, third}
    assert len([1 for p, _ in gone if p == first]) == 1
    assert {t for p, t in _set(faulty, entries) if p == third} == set()


def test_the_null_fault_keeps_the_page_length() -> None:
    with serve(FakeAPI.create()) as fake:
        headers = {"Authorization": f"Bearer {fake.spotify_auth.issue_access_token('uma')}"}
        url = f"{fake.base_url}{SPOTIFY}/me/top/tracks"
        plain = httpx.get(url, headers=headers, timeout=5).json()["items"]
        odd = httpx.get(url, headers=headers, params={"_fault": "null:2"}, timeout=5).json()
        assert len(odd["items"]) == len(plain) > 3
        assert odd["items"][2] is None and odd["items"][:2] == plain[:2]
        assert odd["items"][3:] == plain[3:]
