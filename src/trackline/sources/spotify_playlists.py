"""A Spotify user's playlists and what they hold: tracks to `playlist_tracks`, podcast episodes
to `episodes`, local files to `playlist_tracks` where the contract rejects them
(`rule:local_file`).

Which endpoint: `GET /playlists/{id}/items` (February 2026; entries under `item`), unless the
simplified playlist from `GET /me/playlists` still carries only the older `tracks` summary, which
is what an Extended Quota app sees: then `GET /playlists/{id}/tracks` (entries under `track`).
Either entry key is read in both cases. One playlist that fails (refused, missing, or down after
retries) is named in the outcome and loses only its own items.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from trackline.core.http import offset_pages
from trackline.core.http.shapes import items, obj
from trackline.sources.spotify_items import entry_object, episode_record, kind, track_fields

#: Why a playlist's items may be refused for good (shown in the user's outcome). Since
#: 2024-11-27 new apps get no Spotify-owned editorial or algorithmic playlist, and since the
#: February 2026 Development Mode changes only playlists the user owns or collaborates on.
PLAYLIST_REFUSALS = {
    403: "closed to this app: Spotify-owned editorial and algorithmic playlists, and in "
    "Development Mode playlists the user neither owns nor collaborates on, are not available",
    404: "not found: deleted, or a Spotify-owned playlist hidden from this app",
}
#: page sizes the reference documents: `/items` at most 50, the older `/tracks` at most 100
PAGE = {"items": 50, "tracks": 100}


@dataclass
class Contents:
    tracks: list[dict[str, Any]] = field(default_factory=list)  # incl. local files
    episodes: list[dict[str, Any]] = field(default_factory=list)


def endpoint_kind(pl: Mapping[str, Any]) -> str:
    """`items` (2026) unless the playlist has only the older `tracks` summary."""
    if isinstance(pl.get("items"), dict):
        return "items"
    return "tracks" if isinstance(pl.get("tracks"), dict) else "items"


def playlist_contents(api: Any, ctx: Any) -> Contents:
    odd: list[Any] = []  # a playlist entry that is not an object: reported, never dropped
    pages = offset_pages(api.get, "me/playlists", limit=50)
    lists = [p for page in pages for p in items(page, odd=odd)]
    ctx.odd_entries("playlists", "playlist_tracks", odd)
    fetched_at = ctx.now.isoformat()

    def one(pl: Mapping[str, Any]) -> Contents:
        pid = str(pl.get("id"))
        name = pl.get("name") if isinstance(pl.get("name"), str) else None
        got = Contents()
        with ctx.endpoint(f"playlist:{pid}", "playlist_tracks", name, PLAYLIST_REFUSALS):
            got = playlist_rows(api, ctx, pl, pid, fetched_at)
        return got

    out = Contents()
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="trackline-playlists") as pool:
        for got in pool.map(one, lists):
            out.tracks += got.tracks
            out.episodes += got.episodes
    return out


def playlist_rows(api: Any, ctx: Any, pl: Mapping[str, Any], pid: str, fetched_at: str) -> Contents:
    """One playlist's rows, all pages or none (a half-read playlist is not stored)."""
    out = Contents()
    path = endpoint_kind(pl)
    params = {"additional_types": "track,episode"}
    odd: list[Any] = []
    for page in offset_pages(api.get, f"playlists/{pid}/{path}", params, limit=PAGE[path]):
        for entry in items(page, odd=odd):
            thing = entry_object(entry)
            if kind(entry, thing) == "episode":
                out.episodes.append(
                    episode_record(
                        ctx.user_id, thing, playlist_id=pid, added_at=entry.get("added_at")
                    )
                )
                continue
            out.tracks.append(
                {
                    "user_id": ctx.user_id,
                    "playlist_id": pid,
                    "source": "spotify",
                    "playlist_name": pl.get("name"),
                    "popularity": thing.get("popularity"),
                    "added_at": entry.get("added_at"),
                    "fetched_at": fetched_at,
                    **track_fields(obj(thing)),
                }
            )
    ctx.odd_entries(f"playlist:{pid}", "playlist_tracks", odd)  # once every page is read
    return out
