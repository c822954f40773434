"""Spotify Web API connector: recently played (incremental by the `after` cursor), top tracks
and artists for the three time ranges, playlists and what they hold, and artists' genres.

It follows both API shapes Spotify serves since February 2026 (Development Mode, the default for
apps, and Extended Quota): see spotify_items.py (fields), spotify_playlists.py (endpoints) and
spotify_artists.py (the refused batch endpoint). Podcast episodes go to `episodes`, never to
`listens` or `playlist_tracks`.

Recently played only ever holds the last 50 plays; the cursor (`spotify:recently_played:<user>`,
the newest `played_at` in ms) is kept in the state store so each run asks only for newer plays.
Pages are followed by their `next` link (Spotify puts one on every full page, pointing `before`
its oldest play) until a page brings nothing newer than the cursor. When a run finds the whole
50-play window newer than the cursor, older plays may have fallen out of Spotify's window: the
run says so in its notes (fetch more often).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from trackline.auth.oauth import oauth_app
from trackline.auth.tokens import TokenManager
from trackline.core.http import next_url_pages, offset_pages
from trackline.core.http.shapes import indexed_items, items, obj
from trackline.errors import ConfigError
from trackline.sources.spotify_artists import artist_genres
from trackline.sources.spotify_items import episode_record, kind, play_record, track_fields
from trackline.sources.spotify_playlists import PLAYLIST_REFUSALS, playlist_contents

DATASETS = ("listens", "top_tracks", "top_artists", "playlist_tracks", "episodes")
NEEDS_USER = True
TIME_RANGES = ("short_term", "medium_term", "long_term")
WINDOW = 50
MAX_PLAY_PAGES = 100  # a guard: Spotify's window is 50 plays, so a few pages at most

__all__ = ["DATASETS", "NEEDS_USER", "PLAYLIST_REFUSALS", "Spotify", "fetch"]


class Spotify:
    def __init__(self, ctx: Any) -> None:
        if ctx.state is None:
            raise ConfigError("the Spotify connector needs a state store for tokens and cursors")
        self.ctx = ctx
        self.base = ctx.settings.spotify_api_url.rstrip("/")
        self.tokens = TokenManager(
            ctx.state, ctx.http, oauth_app(ctx.settings, "spotify"), ctx.user_id
        )

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base}/{path.lstrip('/')}"

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        # auth_origin: a full URL (a `next` link) on another host never gets the token
        return self.ctx.http.get_json(
            self.url(url),
            params,
            auth=self.tokens.headers,
            on_unauthorized=self.tokens.invalidate,
            auth_origin=self.base,
        )


def fetch(ctx: Any) -> None:
    api = Spotify(ctx)
    me = api.get("me")
    # `country` is gone from /me for Development Mode apps (2026): then NULL
    country = me.get("country") if isinstance(me, dict) else None
    plays: list[dict[str, Any]] = []
    episodes: list[dict[str, Any]] = []
    with ctx.endpoint("recently_played", "listens"):
        plays, episodes = recently_played(api, ctx, country)
    tracks: list[dict[str, Any]] = []
    with ctx.endpoint("playlists", "playlist_tracks"):
        contents = playlist_contents(api, ctx)
        tracks, episodes = contents.tracks, episodes + contents.episodes
    artist_ids = {r["artist_id"] for r in plays + tracks if r.get("artist_id")}
    genres: dict[str, list[str]] = {}
    with ctx.endpoint("artists", "listens"):
        genres = artist_genres(api, ctx, artist_ids)
    for r in plays + tracks:
        g = genres.get(r.get("artist_id") or "", [])
        r["genre"] = g[0] if g else None
    ctx.emit("listens", plays)
    ctx.emit("playlist_tracks", tracks)
    ctx.emit("episodes", episodes)
    day = ctx.now.replace(hour=0, minute=0, second=0, microsecond=0).isoformat()
    for what, dataset in (("tracks", "top_tracks"), ("artists", "top_artists")):
        for time_range in TIME_RANGES:
            with ctx.endpoint(f"top_{what}:{time_range}", dataset):
                odd: list[Any] = []
                ctx.emit(dataset, top_items(api, ctx.user_id, what, time_range, day, odd))
                ctx.odd_entries(f"top_{what}:{time_range}", dataset, odd)


def recently_played(
    api: Spotify, ctx: Any, country: str | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Plays newer than the cursor, as `listens` records and (for episodes) `episodes`."""
    key = f"spotify:recently_played:{ctx.user_id}"
    previous = ctx.get_cursor(key)
    since = int(previous) if previous and previous.isdigit() else 0
    params = {"limit": WINDOW, "after": str(since)}
    plays: list[dict[str, Any]] = []
    episodes: list[dict[str, Any]] = []
    seen: set[tuple[Any, Any]] = set()
    odd: list[Any] = []  # entries that are not objects (a null): reported, never dropped
    newest, new = since, 0
    url = api.url("me/player/recently-played")
    for page in next_url_pages(api.get, url, params, max_pages=MAX_PLAY_PAGES):
        fresh = 0
        for item in items(page, odd=odd):
            ms = _ms(item.get("played_at"))
            if ms is not None and ms <= since:
                continue  # at or before the cursor: stored by an earlier run
            thing = obj(item.get("track"))
            ident = (item.get("played_at"), thing.get("id") or thing.get("uri"))
            if ident in seen:
                continue  # the same play on two pages
            seen.add(ident)
            fresh += 1
            if ms is not None:
                newest, new = max(newest, ms), new + 1
            if kind(item, thing) == "episode":
                played = item.get("played_at")
                episodes.append(episode_record(ctx.user_id, thing, played_at=played))
            else:
                plays.append(play_record(ctx.user_id, item, country))
        if not fresh:
            break  # nothing newer than the cursor on this page: the rest is older still
    ctx.odd_entries("recently_played", "listens", odd)
    if previous and new >= WINDOW:
        ctx.notes.append(
            f"recently_played: {new} new plays since the last run fill Spotify's "
            f"{WINDOW}-play window; older plays may be missing (a gap): fetch more often"
        )
    if newest and str(newest) != previous:
        ctx.set_cursor(key, str(newest))
    return plays, episodes


def top_items(
    api: Spotify,
    user_id: str,
    what: str,
    time_range: str,
    day: str,
    odd: list[Any] | None = None,
) -> list[Any]:
    """One ranking; an entry that is not an object goes to `odd` and keeps its rank's slot."""
    out: list[dict[str, Any]] = []
    params = {"time_range": time_range}
    for page in offset_pages(api.get, f"me/top/{what}", params, limit=50, max_items=50):
        offset = int(page.get("offset") or 0)
        for i, item in indexed_items(page, odd=odd):
            base = {"user_id": user_id, "time_range": time_range, "rank": offset + i + 1}
            # `popularity` and `followers` are gone for Development Mode apps (2026): NULL
            if what == "tracks":
                t = track_fields(item)
                out.append({**base, **t, "popularity": item.get("popularity"), "fetched_at": day})
            else:
                genres = [g for g in item.get("genres") or [] if isinstance(g, str)]
                followers = obj(item.get("followers")).get("total")
                out.append(
                    {
                        **base,
                        "artist_id": item.get("id"),
                        "artist_name": item.get("name"),
                        "genre": genres[0] if genres else None,
                        "genres": ", ".join(genres) or None,
                        "popularity": item.get("popularity"),
                        "followers": followers,
                        "fetched_at": day,
                    }
                )
    return out


def _ms(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None
