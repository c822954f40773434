"""YouTube: a `null` item in a page of playlistItems is kept as a rejected record (`malformed`)
with a note, and every other item of the playlist is stored (over real HTTP, the fake's
`null:<i>` fault)."""

from __future__ import annotations

from tests.sources.conftest import connect
from tests.warehouse_rows import warehouse_rows
from trackline.config import Settings
from trackline.fakeapi import FakeAPI
from trackline.pipelines.fetch import fetch_user
from trackline.state import StateStore


def test_a_null_playlist_item_is_reported_and_the_others_kept(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    connect(fake, store, "yuki", "youtube")
    lists = fake.youtube.lists("yuki")
    pid, _, ids = lists[0]
    fake.faults.script("/youtube/v3/playlistItems", ["null:0"])  # the first page read
    result = fetch_user(settings, "youtube", "yuki", state=store)
    assert result.status == "ok", result.error
    assert result.rejected_by_reason == {"playlist_tracks": {"malformed": 1}}
    n = result.fetched["playlist_tracks"]
    assert n == result.added["playlist_tracks"] + 1 + result.duplicates["playlist_tracks"]
    assert any(x.startswith(f"playlistItems:{pid}: 1 entry") for x in result.notes), result.notes
    stored = warehouse_rows(settings, "SELECT playlist_id, track_id FROM playlist_tracks")
    expected = {(p, v) for p, _, vids in lists for v in vids} - {(pid, ids[0])}
    assert set(stored) == expected
    rejected = warehouse_rows(settings, "SELECT dataset, record, reasons FROM meta.rejected")
    assert rejected == [("playlist_tracks", "null", ["malformed"])]
