"""Spotify Web API connector: recently played (incremental by the `after` cursor), top tracks
and artists for the three time ranges, playlists and their tracks, and artists' genres.

Recently played only ever holds the last 50 plays; the cursor (`spotify:recently_played:<user>`,
the newest `played_at` in ms) is kept in the state store so each run asks only for newer plays.
When a run finds a full window of 50 new plays, older ones may have fallen out of Spotify's
window: the run says so in its notes (fetch more often).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from trackline.auth.oauth import oauth_app
from trackline.auth.tokens import TokenManager
from trackline.core.http import next_url_pages, offset_pages
from trackline.core.http.shapes import obj
from trackline.errors import ConfigError

DATASETS = ("listens", "top_tracks", "top_artists", "playlist_tracks")
NEEDS_USER = True
TIME_RANGES = ("short_term", "medium_term", "long_term")
WINDOW = 50


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
    country = me.get("country") if isinstance(me, dict) else None
    artist_ids: set[str] = set()
    plays: list[dict[str, Any]] = []
    with ctx.endpoint("recently_played", "listens"):
        plays = recently_played(api, ctx, country)
    tracks: list[dict[str, Any]] = []
    with ctx.endpoint("playlists", "playlist_tracks"):
        tracks = playlist_tracks(api, ctx)
    artist_ids |= {r["artist_id"] for r in plays + tracks if r.get("artist_id")}
    genres: dict[str, list[str]] = {}
    with ctx.endpoint("artists", "listens"):
        genres = artist_genres(api, sorted(artist_ids))
    for r in plays + tracks:
        g = genres.get(r.get("artist_id") or "", [])
        r["genre"] = g[0] if g else None
    ctx.emit("listens", plays)
    ctx.emit("playlist_tracks", tracks)
    day = ctx.now.replace(hour=0, minute=0, second=0, microsecond=0).isoformat()
    for kind, dataset in (("tracks", "top_tracks"), ("artists", "top_artists")):
        for time_range in TIME_RANGES:
            with ctx.endpoint(f"top_{kind}:{time_range}", dataset):
                ctx.emit(dataset, top_items(api, ctx.user_id, kind, time_range, day))


def recently_played(api: Spotify, ctx: Any, country: str | None) -> list[dict[str, Any]]:
    key = f"spotify:recently_played:{ctx.user_id}"
    previous = ctx.get_cursor(key)
    params = {"limit": WINDOW, "after": previous or "0"}
    out: list[dict[str, Any]] = []
    newest = int(previous) if previous and previous.isdigit() else 0
    pages = 0
    for page in next_url_pages(api.get, api.url("me/player/recently-played"), params):
        pages += 1
        for item in _items(page):
            rec = play_record(ctx.user_id, item, country)
            ms = _ms(rec.get("played_at"))
            if ms is not None:
                newest = max(newest, ms)
            out.append(rec)
    if previous and pages == 1 and len(out) >= WINDOW:
        ctx.notes.append(
            f"recently_played: {len(out)} new plays since the last run fill Spotify's "
            f"{WINDOW}-play window; older plays may be missing (a gap): fetch more often"
        )
    if newest and str(newest) != previous:
        ctx.set_cursor(key, str(newest))
    return out


def play_record(user_id: str, item: Mapping[str, Any], country: str | None) -> dict[str, Any]:
    track = obj(item.get("track"))
    return {
        "user_id": user_id,
        "played_at": item.get("played_at"),
        "source": "spotify_api",
        # the account's country (where the play happened is not in the API; listens v2)
        "account_country": country,
        **_track_fields(track),
    }


def _track_fields(track: Mapping[str, Any]) -> dict[str, Any]:
    artists = track.get("artists") if isinstance(track.get("artists"), list) else []
    first = artists[0] if artists and isinstance(artists[0], dict) else {}
    album = obj(track.get("album"))
    return {
        "track_id": track.get("id"),
        "track_name": track.get("name"),
        "artist_id": first.get("id"),
        "artist_name": first.get("name"),
        "album_name": album.get("name"),
        "duration_ms": track.get("duration_ms"),
    }


def top_items(api: Spotify, user_id: str, kind: str, time_range: str, day: str) -> list[Any]:
    out: list[dict[str, Any]] = []
    params = {"time_range": time_range}
    for page in offset_pages(api.get, f"me/top/{kind}", params, limit=50, max_items=50):
        offset = int(page.get("offset") or 0)
        for i, item in enumerate(_items(page)):
            base = {"user_id": user_id, "time_range": time_range, "rank": offset + i + 1}
            if kind == "tracks":
                t = _track_fields(item)
                out.append({**base, **t, "popularity": item.get("popularity"), "fetched_at": day})
            else:
                genres = [g for g in item.get("genres") or [] if isinstance(g, str)]
                followers = item.get("followers")
                out.append(
                    {
                        **base,
                        "artist_id": item.get("id"),
                        "artist_name": item.get("name"),
                        "genre": genres[0] if genres else None,
                        "genres": ", ".join(genres) or None,
                        "popularity": item.get("popularity"),
                        "followers": followers.get("total")
                        if isinstance(followers, dict)
                        else None,
                        "fetched_at": day,
                    }
                )
    return out


#: Why a playlist's items may be refused for good (shown in the user's outcome). Since
#: 2024-11-27 new apps get no Spotify-owned editorial or algorithmic playlist, and since the
#: February 2026 Development Mode changes only playlists the user owns or collaborates on.
PLAYLIST_REFUSALS = {
    403: "closed to this app: Spotify-owned editorial and algorithmic playlists, and in "
    "Development Mode playlists the user neither owns nor collaborates on, are not available",
    404: "not found: deleted, or a Spotify-owned playlist hidden from this app",
}


def playlist_tracks(api: Spotify, ctx: Any) -> list[dict[str, Any]]:
    """Every playlist's items; one playlist that fails (refused, missing, or down after
    retries) is named in the outcome and loses only its own items."""
    lists = [p for page in offset_pages(api.get, "me/playlists", limit=50) for p in _items(page)]
    fetched_at = ctx.now.isoformat()

    def one(pl: Mapping[str, Any]) -> list[dict[str, Any]]:
        pid = str(pl.get("id"))
        name = pl.get("name") if isinstance(pl.get("name"), str) else None
        rows: list[dict[str, Any]] = []
        with ctx.endpoint(f"playlist:{pid}", "playlist_tracks", name, PLAYLIST_REFUSALS):
            rows = playlist_rows(api, ctx, pl, pid, fetched_at)
        return rows

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="trackline-playlists") as pool:
        return [r for rows in pool.map(one, lists) for r in rows]


def playlist_rows(
    api: Spotify, ctx: Any, pl: Mapping[str, Any], pid: str, fetched_at: str
) -> list[dict[str, Any]]:
    """One playlist's rows, all pages or none (a half-read playlist is not stored)."""
    rows = []
    for page in offset_pages(api.get, f"playlists/{pid}/tracks", limit=100):
        for item in _items(page):
            track = obj(item.get("track"))
            rows.append(
                {
                    "user_id": ctx.user_id,
                    "playlist_id": pid,
                    "source": "spotify",
                    "playlist_name": pl.get("name"),
                    "popularity": track.get("popularity"),
                    "added_at": item.get("added_at"),
                    "fetched_at": fetched_at,
                    **_track_fields(track),
                }
            )
    return rows


def artist_genres(api: Spotify, ids: Iterable[str]) -> dict[str, list[str]]:
    """Genres per artist id, 50 ids per call (the API's maximum)."""
    ids = list(ids)
    out: dict[str, list[str]] = {}
    for i in range(0, len(ids), 50):
        body = api.get("artists", {"ids": ",".join(ids[i : i + 50])})
        for a in body.get("artists") or [] if isinstance(body, dict) else []:
            if isinstance(a, dict) and a.get("id"):
                out[str(a["id"])] = [g for g in a.get("genres") or [] if isinstance(g, str)]
    return out


def _items(page: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = page.get("items")
    return [x for x in items if isinstance(x, dict)] if isinstance(items, list) else []


def _ms(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None
