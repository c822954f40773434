"""Spotify data export import (#25 point 4): music, podcast episodes and audiobooks each where
they belong, the play details kept, bare ids, IP and user agent never stored, idempotent, and
the export's users known afterwards."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.pipelines.export_files import IP, UA, extended, write
from tests.warehouse_rows import warehouse_rows
from trackline.config import Settings
from trackline.errors import UsageError
from trackline.pipelines.export import import_spotify_export
from trackline.state import open_state

M1, M2 = "4uLU6hMCjMI75M1A2tKUQC", "6rqhFgbbKwnb9MLmUQDhG6"
EP, BOOK = "512ojhOuo1ktJprKbVcKyQ", "7iHfbu1YPACw6oZPAFJtqe"
LOCAL_URI = "spotify:local:Me:Demos:Second+take:201"


def _history(tmp_path: Path) -> Path:
    return write(
        tmp_path / "Streaming_History_Audio_2024_0.json",
        [
            extended(
                "2024-02-01T10:00:00Z", track=M1, conn_country="se", shuffle=True,
                offline=True, offline_timestamp=1706781000, incognito_mode=True,
                reason_start="fwdbtn", platform="iOS 17.2 (iPhone15,2)",
            ),
            extended(
                "2024-02-01T10:05:00Z", track=M2, ms=12_000, skipped=True, reason_end="fwdbtn",
                conn_country="ZZ", offline_timestamp=1706781000123,
            ),
            extended(  # a local file: names, no URI
                "2024-02-01T10:10:00Z", master_metadata_track_name="Demo take",
                master_metadata_album_artist_name="Me",
            ),
            extended(  # a local file with its spotify:local: URI
                "2024-02-01T10:12:00Z", master_metadata_track_name="Second take",
                master_metadata_album_artist_name="Me", spotify_track_uri=LOCAL_URI,
            ),
            extended("2024-02-01T10:15:00Z", ms=0),  # Spotify writes records naming nothing
            extended("2024-02-01T11:00:00Z", episode=EP, name="Ep 1", artist="Pod", ms=900_000),
            extended("2024-02-01T12:00:00Z", audiobook=BOOK, name="Chapter 1", artist="Book"),
        ],
    )  # fmt: skip


def test_extended_history_music_episodes_and_audiobooks(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "home")
    done = import_spotify_export(settings, [str(_history(tmp_path))])
    [f] = done.files
    assert (f.rows, f.counts) == (7, {"listens": 5, "episodes": 2})
    listens, episodes = done.runs["listens"].manifest.counts, done.runs["episodes"].manifest.counts
    # the two local files and the record naming nothing: no track id, as on the API path
    assert (listens.input, listens.valid, listens.rejected, listens.duplicates) == (5, 2, 3, 0)
    assert listens.rejected_by_reason == {"required:track_id": 3}
    assert (episodes.input, episodes.valid, episodes.rejected) == (2, 2, 0)
    rejected = warehouse_rows(
        settings,
        "SELECT record, reasons, source_file, source_line FROM meta.rejected "
        "WHERE dataset = 'listens' ORDER BY source_line",
    )
    records = [json.loads(r[0]) for r in rejected]
    local = {r["track_name"]: r for r in records if r["track_name"]}
    assert set(local) == {"Demo take", "Second take"}
    assert local["Second take"]["local_uri"] == LOCAL_URI
    assert local["Demo take"]["artist_name"] == "Me" and local["Demo take"]["local_uri"] is None
    assert all(r["track_id"] is None and r["played_at"] for r in records)
    for record, reasons, source_file, line in rejected:
        assert reasons == ["required:track_id"]
        assert Path(source_file).name.startswith("Streaming_History_Audio_2024_0-")
        assert Path(source_file).read_text().splitlines()[line - 1] == record

    rows = warehouse_rows(
        settings,
        "SELECT track_id, country, reason_start, reason_end, shuffle, skipped, offline, "
        "offline_timestamp, incognito_mode, platform, ms_played FROM listens ORDER BY played_at",
    )
    assert [r[0] for r in rows] == [M1, M2]  # bare ids, never URIs, never local files
    first, second = rows[0], rows[1]
    assert first[1:10] == (
        "SE", "fwdbtn", "trackdone", True, False, True,
        datetime(2024, 2, 1, 9, 50, tzinfo=UTC), True, "iOS 17.2 (iPhone15,2)",
    )  # fmt: skip
    assert second[1] is None  # ZZ: Spotify's "unknown country"
    assert second[5] is True and second[7] == datetime(2024, 2, 1, 9, 50, 0, 123000, tzinfo=UTC)

    eps = warehouse_rows(
        settings,
        "SELECT kind, episode_id, episode_key, episode_name, show_name, context, ms_played, "
        "country FROM episodes ORDER BY played_at",
    )
    assert eps == [
        ("podcast", EP, EP, "Ep 1", "Pod", "play@2024-02-01T11:00:00Z", 900_000, "SE"),
        ("audiobook", BOOK, BOOK, "Chapter 1", "Book", "play@2024-02-01T12:00:00Z", 180_000, "SE"),
    ]
    assert warehouse_rows(settings, "SELECT count(*) FROM listens WHERE track_id LIKE '%:%:%'")[
        0
    ] == (0,)
    stored = b"".join(p.read_bytes() for p in settings.home.rglob("*") if p.is_file())
    assert IP.encode() not in stored and UA.encode() not in stored

    again = import_spotify_export(settings, [str(_history(tmp_path))])
    for run in again.runs.values():
        assert run.skipped or run.manifest.counts.valid == 0


def test_account_data_music_and_podcasts(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "home")
    music = write(
        tmp_path / "StreamingHistory_music_0.json",
        [
            {"endTime": "2023-01-05 14:32", "artistName": "Band", "trackName": "Song",
             "msPlayed": 123000},
            {"endTime": "2023-01-05 14:40", "artistName": "band ", "trackName": "song",
             "msPlayed": 5000},
            {"endTime": "not a time", "artistName": "X", "trackName": "Y", "msPlayed": 1},
        ],
    )  # fmt: skip
    podcast = write(
        tmp_path / "StreamingHistory_podcast_0.json",
        [
            {"endTime": "2023-01-06 08:00", "podcastName": "Pod", "episodeName": "Ep 1",
             "msPlayed": 1_200_000},
            {"endTime": "2023-01-07 08:00", "podcastName": "Pod", "episodeName": "Ep 2",
             "msPlayed": 60_000},
        ],
    )  # fmt: skip
    with pytest.raises(UsageError, match="--user"):
        import_spotify_export(settings, [str(music)])
    done = import_spotify_export(settings, [str(music), str(podcast)], user="maria")
    c, e = done.runs["listens"].manifest.counts, done.runs["episodes"].manifest.counts
    assert (c.input, c.valid, c.rejected) == (3, 2, 1)
    assert "type:played_at" in c.rejected_by_reason
    assert (e.input, e.valid, e.rejected) == (2, 2, 0)  # podcasts are not tracks without ids
    ids = warehouse_rows(settings, "SELECT DISTINCT track_id FROM listens")
    assert len(ids) == 1 and ids[0][0].startswith("name:")  # case and spaces do not split it
    eps = warehouse_rows(
        settings,
        "SELECT user_id, episode_id, show_name, episode_name, played_at FROM episodes "
        "ORDER BY played_at",
    )
    assert eps[0] == ("maria", None, "Pod", "Ep 1", datetime(2023, 1, 6, 8, 0, tzinfo=UTC))


def test_importing_makes_its_users_known_without_tokens(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "home")
    src = write(
        tmp_path / "Streaming_History_Audio_2024_1.json",
        [
            extended("2024-03-01T10:00:00Z", user="nora", track=M1),
            extended("2024-03-01T10:05:00Z", user="olle", track=M2),
        ],
    )
    done = import_spotify_export(settings, [str(src)])
    assert done.users == ["nora", "olle"]
    store = open_state(settings)
    try:
        nora = store.get_user("nora")
        assert nora is not None and nora.providers == {}
        assert store.get_user("olle") is not None
        assert store.get_user("exportuser") is None
    finally:
        store.close()
    again = import_spotify_export(settings, [str(src)])  # a known user stays as is
    assert again.users == ["nora", "olle"]


def test_bad_files_are_clear_errors(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "home")
    other = tmp_path / "notes.json"
    other.write_text("[]")
    with pytest.raises(UsageError, match="not a Spotify export"):
        import_spotify_export(settings, [str(other)])
    broken = tmp_path / "endsong_0.json"
    broken.write_text("[{oops")
    with pytest.raises(UsageError, match=r"endsong_0\.json"):
        import_spotify_export(settings, [str(broken)])
