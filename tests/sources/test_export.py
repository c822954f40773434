"""Spotify data export import: both file families, IP/user agent never stored, idempotent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trackline.config import Settings
from trackline.core import duck
from trackline.errors import UsageError
from trackline.pipelines.export import import_spotify_export

IP = "203.0.113.77"
UA = "unit-test-agent/9.9"


def _extended(path: Path, n: int = 30) -> Path:
    rows = []
    for i in range(n):
        rows.append(
            {
                "ts": f"2024-02-{1 + i % 28:02d}T10:{i % 60:02d}:00Z",
                "username": "exportuser",
                "platform": "android",
                "ms_played": 1000 * (30 + i),
                "conn_country": "se",
                "ip_addr_decrypted": IP,
                "user_agent_decrypted": UA,
                "master_metadata_track_name": f"Song {i}",
                "master_metadata_album_artist_name": "Band",
                "master_metadata_album_album_name": "LP",
                "spotify_track_uri": f"spotify:track:{i:022d}",
                "episode_name": None,
                "episode_show_name": None,
                "spotify_episode_uri": None,
                "reason_start": "clickrow",
                "reason_end": "trackdone",
                "shuffle": False,
                "skipped": i % 5 == 0,
                "offline": False,
                "incognito_mode": False,
            }
        )
    rows.append(
        {
            "ts": "2024-02-03T09:00:00Z",
            "username": "exportuser",
            "ms_played": 60000,
            "ip_addr": IP,
            "master_metadata_track_name": None,
            "spotify_track_uri": None,
            "episode_name": "Ep 1",
            "episode_show_name": "Pod",
            "spotify_episode_uri": "spotify:episode:abc",
            "reason_end": "endplay",
            "skipped": None,
        }
    )
    path.write_text(json.dumps(rows))
    return path


def test_extended_history_into_listens_without_ip_or_agent(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "home")
    src = _extended(tmp_path / "Streaming_History_Audio_2024_0.json")
    converted, run = import_spotify_export(settings, [str(src)])
    assert converted[0].rows == 31
    c = run.manifest.counts
    assert c.input == 31 and c.valid == 31, c.rejected_by_reason
    con = duck.connect(settings.warehouse, read_only=True)
    try:
        rows = con.execute(
            "SELECT DISTINCT user_id, country, source FROM listens WHERE country IS NOT NULL"
        ).fetchall()
        skipped = con.execute("SELECT count(*) FROM listens WHERE skipped").fetchone()
    finally:
        con.close()
    assert rows == [("exportuser", "SE", "spotify_export")]
    assert skipped is not None and skipped[0] == 6
    stored = b"".join(p.read_bytes() for p in settings.home.rglob("*") if p.is_file())
    assert IP.encode() not in stored and UA.encode() not in stored
    _, again = import_spotify_export(settings, [str(src)])
    assert again.skipped or again.manifest.counts.valid == 0


def test_account_history_needs_a_user_and_gets_stable_ids(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "home")
    src = tmp_path / "StreamingHistory_music_0.json"
    src.write_text(
        json.dumps(
            [
                {
                    "endTime": "2023-01-05 14:32",
                    "artistName": "Band",
                    "trackName": "Song",
                    "msPlayed": 123000,
                },
                {
                    "endTime": "2023-01-05 14:40",
                    "artistName": "band ",
                    "trackName": "song",
                    "msPlayed": 5000,
                },
                {"endTime": "not a time", "artistName": "X", "trackName": "Y", "msPlayed": 1},
            ]
        )
    )
    with pytest.raises(UsageError, match="--user"):
        import_spotify_export(settings, [str(src)])
    _, run = import_spotify_export(settings, [str(src)], user="maria")
    c = run.manifest.counts
    assert (c.input, c.valid, c.rejected) == (3, 2, 1)
    assert "type:played_at" in c.rejected_by_reason
    con = duck.connect(settings.warehouse, read_only=True)
    try:
        ids = con.execute("SELECT DISTINCT track_id FROM listens").fetchall()
    finally:
        con.close()
    assert len(ids) == 1 and ids[0][0].startswith("name:")


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
