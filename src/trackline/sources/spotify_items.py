"""Spotify objects to records, for both API shapes (February 2026 Development Mode and Extended
Quota): what an entry holds (`item`, or the older `track`), whether it is a track, a podcast
episode or a local file, and the fields each dataset keeps.

Fields Spotify removed for Development Mode apps (track and album `popularity`,
`available_markets`, artist `followers` and `popularity`, the user's `country`...) are read when
present and are NULL when absent: never a rejected row, never a crash.

A local file has no Spotify id: its record keeps the `spotify:local:...` URI as `track_id`, which
the `playlist_tracks` contract rejects with `rule:local_file` (the record stays in
`meta.rejected` with its source line), so a local file is never stored as a track.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from trackline.core.http.shapes import obj

Kind = Literal["track", "episode", "local"]


def entry_object(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A playlist entry's object: `item` (2026) or `track` (before); {} when neither."""
    item = entry.get("item")
    return obj(item) if isinstance(item, dict) else obj(entry.get("track"))


def kind(entry: Mapping[str, Any], thing: Mapping[str, Any]) -> Kind:
    """What an entry (a playlist entry or a play) holds."""
    if thing.get("type") == "episode" or thing.get("episode") is True:
        return "episode"
    if entry.get("is_local") is True or thing.get("is_local") is True:
        return "local"
    if thing.get("id") is None and str(thing.get("uri") or "").startswith("spotify:local:"):
        return "local"
    return "track"


def track_fields(track: Mapping[str, Any]) -> dict[str, Any]:
    artists = track.get("artists") if isinstance(track.get("artists"), list) else []
    first = artists[0] if artists and isinstance(artists[0], dict) else {}
    album = obj(track.get("album"))
    track_id = track.get("id")
    if track_id is None and str(track.get("uri") or "").startswith("spotify:local:"):
        track_id = track.get("uri")  # a local file: rejected as `rule:local_file`
    return {
        "track_id": track_id,
        "track_name": track.get("name"),
        "artist_id": first.get("id"),
        "artist_name": first.get("name"),
        "album_name": album.get("name"),
        "duration_ms": track.get("duration_ms"),
    }


def play_record(user_id: str, item: Mapping[str, Any], country: str | None) -> dict[str, Any]:
    """A recently-played track play as a `listens` record. A local file's play has no track id:
    `listens` rejects it (`required:track_id`) and the rejected record keeps its `local_uri`."""
    track = obj(item.get("track"))
    fields = track_fields(track)
    extra: dict[str, Any] = {}
    if kind(item, track) == "local":
        extra["local_uri"] = track.get("uri")
        fields["track_id"] = None
    return {
        "user_id": user_id,
        "played_at": item.get("played_at"),
        "source": "spotify_api",
        # the account's country (where the play happened is not in the API; listens v2)
        "account_country": country,
        **fields,
        **extra,
    }


def episode_record(
    user_id: str,
    episode: Mapping[str, Any],
    *,
    playlist_id: str | None = None,
    added_at: Any = None,
    played_at: Any = None,
) -> dict[str, Any]:
    """A podcast episode as an `episodes` record: a playlist entry (`playlist:<id>`) or a play
    (`play@<played_at>`, to the second in UTC)."""
    eid = episode.get("id")
    context = f"playlist:{playlist_id}" if playlist_id else f"play@{second(played_at)}"
    return {
        "user_id": user_id,
        "source": "spotify_api",
        "kind": "podcast",
        "context": context,
        "episode_key": eid,
        "episode_id": eid,
        "episode_name": episode.get("name"),
        "show_name": obj(episode.get("show")).get("name"),
        "playlist_id": playlist_id,
        "duration_ms": episode.get("duration_ms"),
        "played_at": played_at,
        "added_at": added_at,
    }


def second(value: Any) -> str:
    """`2026-01-01T12:00:00.123Z` -> `2026-01-01T12:00:00Z` (the key's precision); anything
    else as it is (the contract then rejects the row for its `played_at`)."""
    text = str(value)
    if len(text) >= 19 and text[10:11] == "T" and text.endswith("Z"):
        return text[:19] + "Z"
    return text
