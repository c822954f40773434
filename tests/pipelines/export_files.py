"""Spotify export files in the documented shapes ("Understanding my data"): one extended
streaming history record per kind (music, podcast episode, audiobook chapter, local file, an
empty record) and the account data's music and podcast files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

IP = "203.0.113.77"
UA = "unit-test-agent/9.9"

_NULLS = {
    "master_metadata_track_name": None,
    "master_metadata_album_artist_name": None,
    "master_metadata_album_album_name": None,
    "spotify_track_uri": None,
    "episode_name": None,
    "episode_show_name": None,
    "spotify_episode_uri": None,
    "audiobook_title": None,
    "audiobook_uri": None,
    "audiobook_chapter_uri": None,
    "audiobook_chapter_title": None,
}


def extended(
    ts: str,
    *,
    user: str = "exportuser",
    ms: int = 180_000,
    track: str | None = None,
    episode: str | None = None,
    audiobook: str | None = None,
    name: str = "Song",
    artist: str = "Band",
    **extra: Any,
) -> dict[str, Any]:
    """One extended-history record, every documented field present (as Spotify writes them)."""
    rec: dict[str, Any] = {
        "ts": ts,
        "username": user,
        "platform": "android",
        "ms_played": ms,
        "conn_country": "SE",
        "ip_addr": IP,
        "user_agent_decrypted": UA,
        **_NULLS,
        "reason_start": "clickrow",
        "reason_end": "trackdone",
        "shuffle": False,
        "skipped": False,
        "offline": False,
        "offline_timestamp": None,
        "incognito_mode": False,
    }
    if track is not None:
        rec.update(
            master_metadata_track_name=name,
            master_metadata_album_artist_name=artist,
            master_metadata_album_album_name="LP",
            spotify_track_uri=f"spotify:track:{track}",
        )
    if episode is not None:
        rec.update(
            episode_name=name,
            episode_show_name=artist,
            spotify_episode_uri=f"spotify:episode:{episode}",
        )
    if audiobook is not None:
        rec.update(
            audiobook_title=artist,
            audiobook_uri=f"spotify:show:{audiobook}",
            audiobook_chapter_uri=f"spotify:chapter:{audiobook}",
            audiobook_chapter_title=name,
        )
    rec.update(extra)
    return rec


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(records, indent=1))
    return path
