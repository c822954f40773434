"""#25 point 7: the same play fetched from the API (milliseconds) and read from an export
(`ts` to the second, `spotify:track:` URIs) is one row: importing an export after fetching
counts the overlap as duplicates, in = valid + rejected + duplicates."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pipelines.export_files import extended, write
from tests.sources.conftest import connect
from tests.warehouse_rows import warehouse_rows
from trackline.config import Settings
from trackline.fakeapi import FakeAPI, serve
from trackline.pipelines.export import import_spotify_export
from trackline.pipelines.fetch import fetch_user
from trackline.state import open_state


@pytest.fixture
def fake() -> Iterator[FakeAPI]:
    with serve(FakeAPI.create()) as api:
        yield api


def test_export_after_api_fetch_does_not_double_count(fake: FakeAPI, tmp_path: Path) -> None:
    settings = Settings.load(
        home=tmp_path / "home",
        http_backoff_seconds=0.01,
        http_backoff_max_seconds=0.05,
        **fake.settings_overrides(),
    )
    store = open_state(settings)
    try:
        connect(fake, store, "alice")
        fetched = fetch_user(settings, "spotify", "alice", state=store)
    finally:
        store.close()
    assert fetched.added.get("listens", 0) > 20, fetched.error
    raw = "".join(p.read_text() for p in (Path(settings.lake) / "raw" / "listens").rglob("part-*"))
    # the API answered with milliseconds (else this test would prove nothing)
    assert re.search(r'"played_at": ?"[^"]+\.(?!000)\d{3}Z"', raw)
    api = warehouse_rows(
        settings, "SELECT played_at, track_id FROM listens WHERE user_id = 'alice' ORDER BY 1"
    )
    # the export: 20 of the API's plays, as Spotify writes them, and 5 older ones it never had
    again = [
        extended(at.strftime("%Y-%m-%dT%H:%M:%SZ"), user="alice_spotify", track=track)
        for at, track in api[:20]
    ]
    older = [
        extended(f"2020-01-0{i + 1}T08:00:00Z", user="alice_spotify", track=f"old{i}")
        for i in range(5)
    ]
    src = write(tmp_path / "Streaming_History_Audio_2020-2026_0.json", again + older)

    done = import_spotify_export(settings, [str(src)], user="alice")
    c = done.runs["listens"].manifest.counts
    assert (c.input, c.valid, c.rejected) == (25, 5, 0)
    assert c.duplicates == c.duplicates_in_warehouse == 20
    total = warehouse_rows(settings, "SELECT count(*) FROM listens WHERE user_id = 'alice'")
    assert total == [(len(api) + 5,)]
