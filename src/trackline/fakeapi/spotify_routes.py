"""Spotify Web API look-alike: me, recently played (with Spotify's 50-play window and its cursor
pages), top items, playlists and their items, artists.

Two API modes (`SpotifyData.extended_quota`), as Spotify's "February 2026 Web API Dev Mode
Changes - Migration Guide" describes them:
- Development Mode (default; new apps from 2026-02-11, existing ones from 2026-03-09): playlist
  contents at `/playlists/{id}/items` with each entry's object under `item`, the simplified
  playlist's summary under `items` (`tracks` is null); no track/album `popularity`,
  `available_markets`, `external_ids`, no artist `followers`/`popularity`, no user `country`,
  `email`, `product`, `followers`; the batch `GET /artists?ids=` answers 403; `/tracks` is gone
  (403).
- Extended Quota: the older shapes (`/playlists/{id}/tracks`, `track`, `tracks` summary, every
  field present, batch endpoints open). `/items` is not served.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trackline.fakeapi.spotify_data import Episode, LocalFile, SpotifyData, Unnamed
from trackline.generate import generator

PREFIX = "/spotify/v1"
ADDED_AT = "2024-03-01T10:00:00Z"

__all__ = ["PREFIX", "SpotifyAPI", "SpotifyData"]


class SpotifyAPI:
    def __init__(self, data: SpotifyData, base: Callable[[], str], bearer: Any) -> None:
        self.data = data
        self.base = base  # the public base URL, for `next` links
        self.bearer = bearer  # (request) -> user or a 401 response

    @property
    def ext(self) -> bool:
        return self.data.extended_quota

    def routes(self) -> list[Route]:
        p = PREFIX
        return [
            Route(f"{p}/me", self.me),
            Route(f"{p}/me/player/recently-played", self.recently_played),
            Route(f"{p}/me/top/{{kind}}", self.top),
            Route(f"{p}/me/playlists", self.playlists),
            Route(f"{p}/playlists/{{pid}}/items", self.playlist_items),
            Route(f"{p}/playlists/{{pid}}/tracks", self.playlist_tracks),
            Route(f"{p}/artists", self.artists),
            Route(f"{p}/artists/{{aid}}", self.artist),
        ]

    def _link(self, request: Request, drop: tuple[str, ...] = (), **params: Any) -> str:
        q = {k: v for k, v in request.query_params.items() if k not in drop}
        q.update({k: str(v) for k, v in params.items()})
        return f"{self.base()}{request.url.path}?{urlencode(q)}"

    # Objects -----------------------------------------------------------------------------
    def track(self, t: Any) -> dict[str, Any]:
        if isinstance(t, LocalFile):
            return self._local(t)
        if isinstance(t, Episode):
            return self.episode(t)
        name = None if isinstance(t, Unnamed) else t.name
        t = t.track if isinstance(t, Unnamed) else t
        a = t.artist
        album: dict[str, Any] = {"id": f"al{t.id[:20]}", "name": t.album, "type": "album"}
        out: dict[str, Any] = {
            "id": t.id, "name": name, "type": "track", "uri": f"spotify:track:{t.id}",
            "duration_ms": t.duration_ms, "explicit": False, "is_local": False,
            "artists": [{"id": a.id, "name": a.name, "type": "artist",
                         "uri": f"spotify:artist:{a.id}"}],
            "album": album,
        }  # fmt: skip
        if self.ext:  # removed for Development Mode apps
            out |= {"popularity": t.popularity, "available_markets": ["DE", "US"],
                    "external_ids": {"isrc": f"QZ{t.id[:10].upper()}"}}  # fmt: skip
            album |= {"popularity": t.popularity, "available_markets": ["DE", "US"]}
        return out

    def episode(self, e: Episode) -> dict[str, Any]:
        show: dict[str, Any] = {"id": f"sh{e.id[:20]}", "name": e.show, "type": "show"}
        if self.ext:
            show |= {"publisher": f"{e.show} Media", "available_markets": ["DE", "US"]}
        return {
            "id": e.id, "name": e.name, "type": "episode", "uri": f"spotify:episode:{e.id}",
            "duration_ms": e.duration_ms, "release_date": "2024-02-20", "show": show,
        }  # fmt: skip

    def _local(self, f: LocalFile) -> dict[str, Any]:
        return {
            "id": None, "name": f.name, "type": "track", "uri": f.uri, "is_local": True,
            "duration_ms": f.duration_ms,
            "artists": [{"id": None, "name": f.artist, "type": "artist", "uri": None}],
            "album": {"id": None, "name": f.album, "type": "album"},
        } | ({"popularity": 0} if self.ext else {})  # fmt: skip

    def artist_obj(self, a: Any) -> dict[str, Any]:
        out = {
            "id": a.id,
            "name": a.name,
            "type": "artist",
            "genres": [g.strip() for g in a.genres.split(",") if g.strip()],
        }
        if self.ext:
            out |= {"popularity": a.popularity, "followers": {"href": None, "total": a.followers}}
        return out

    # Routes ------------------------------------------------------------------------------
    async def me(self, request: Request) -> Response:
        user = self.bearer(request)
        if isinstance(user, Response):
            return user
        self.data.hit("me")
        body: dict[str, Any] = {
            "id": user, "display_name": user.replace("_", " ").title(), "type": "user",
            "uri": f"spotify:user:{user}",
        }  # fmt: skip
        if self.ext:
            body |= {"country": self.data.user(user).country, "product": "premium",
                     "email": f"{user}@example.com",
                     "followers": {"href": None, "total": 3}}  # fmt: skip
        return JSONResponse(body)

    async def recently_played(self, request: Request) -> Response:
        """Newest first. With `after`, the newest plays after it; with `before`, those before
        it. As Spotify does, a full page carries a `next` link (`before` its oldest play) even
        when nothing older is left: following it then gives an empty page."""
        user = self.bearer(request)
        if isinstance(user, Response):
            return user
        self.data.hit("recently_played")
        q = request.query_params
        limit = min(50, self.data.page_size, max(1, int(q.get("limit", "20"))))
        u = self.data.user(user)
        visible = u.plays[-self.data.window :] if self.data.window else list(u.plays)
        if "before" in q:
            chosen = [p for p in visible if p[0] < int(q["before"])]
        else:
            chosen = [p for p in visible if p[0] > int(q.get("after", "0"))]
        items = list(reversed(chosen[-limit:]))
        body: dict[str, Any] = {
            "href": self._link(request),
            "limit": limit,
            "items": [self._play(ms, t) for ms, t in items],
            "cursors": None,
            "next": None,
        }
        if items:
            newest, oldest = items[0][0], items[-1][0]
            body["cursors"] = {"after": str(newest), "before": str(oldest)}
            if len(items) == limit:
                body["next"] = self._link(request, ("after", "before"), before=oldest)
        return JSONResponse(body)

    def _play(self, ms: int, t: Any) -> dict[str, Any]:
        played = _iso(ms)
        every = self.data.bad_play_every
        if every and (ms // 1000) % every == 0:
            played = "yesterday-ish"
        return {"track": self.track(t), "played_at": played, "context": None}

    async def top(self, request: Request) -> Response:
        user = self.bearer(request)
        if isinstance(user, Response):
            return user
        self.data.hit("top")
        kind = request.path_params["kind"]
        q = request.query_params
        time_range = q.get("time_range", "medium_term")
        if kind not in ("tracks", "artists") or time_range not in (
            "short_term", "medium_term", "long_term"
        ):  # fmt: skip
            return _error(400, "Invalid request")
        limit = min(50, max(1, int(q.get("limit", "20"))))
        offset = max(0, int(q.get("offset", "0")))
        world = generator.world()
        rng = random.Random(f"{self.data.seed}:top:{user}:{kind}:{time_range}")
        pool = world.tracks if kind == "tracks" else world.artists
        ranked = list({x.id: x for x in (pool.pick(rng.random) for _ in range(120))}.values())
        ranked = ranked[:50]
        page = ranked[offset : offset + limit]
        total = len(ranked)
        render = self.track if kind == "tracks" else self.artist_obj
        nxt = self._link(request, offset=offset + limit) if offset + limit < total else None
        return JSONResponse(
            {"href": self._link(request), "items": [render(x) for x in page], "limit": limit,
             "offset": offset, "total": total, "next": nxt, "previous": None}
        )  # fmt: skip

    async def playlists(self, request: Request) -> Response:
        user = self.bearer(request)
        if isinstance(user, Response):
            return user
        self.data.hit("playlists")
        q = request.query_params
        limit, offset = int(q.get("limit", "20")), int(q.get("offset", "0"))
        lists = self.data.user(user).playlists
        items = []
        for pid, name, entries in lists[offset : offset + limit]:
            kind = "tracks" if self.ext else "items"
            href = f"{self.base()}{PREFIX}/playlists/{pid}/{kind}"
            summary: dict[str, Any] = {"href": href, "total": len(entries)}
            pl: dict[str, Any] = {"id": pid, "name": name, "type": "playlist"}
            pl["owner"] = {"id": user, "type": "user"}
            shape: dict[str, Any] = {"tracks": summary} if self.ext else {"items": summary}
            pl |= shape if self.ext else {**shape, "tracks": None}  # 2026: `tracks` is null
            items.append(pl)
        nxt = self._link(request, offset=offset + limit) if offset + limit < len(lists) else None
        return JSONResponse(
            {"items": items, "limit": limit, "offset": offset, "total": len(lists), "next": nxt}
        )

    async def playlist_items(self, request: Request) -> Response:
        self.data.hit("items")
        if self.ext:
            return _error(404, "Resource not found")  # the older API only
        return await self._entries(request, "item", 50)

    async def playlist_tracks(self, request: Request) -> Response:
        self.data.hit("tracks")
        if not self.ext:
            return _error(403, "Forbidden")  # removed for Development Mode apps
        return await self._entries(request, "track", 100)

    async def _entries(self, request: Request, key: str, most: int) -> Response:
        user = self.bearer(request)
        if isinstance(user, Response):
            return user
        pid = request.path_params["pid"]
        if pid in self.data.closed_playlists:
            return _error(403, "Forbidden")  # the body Spotify sends (2026)
        if pid in self.data.lost_playlists:
            return _error(404, "Resource not found")
        found = [p for p in self.data.user(user).playlists if p[0] == pid]
        if not found:
            return _error(404, "Resource not found")
        q = request.query_params
        limit, offset = min(most, int(q.get("limit", "20"))), int(q.get("offset", "0"))
        entries = found[0][2]
        page = entries[offset : offset + limit]
        items = [
            {"added_at": ADDED_AT, "added_by": {"id": user, "type": "user"},
             "is_local": isinstance(t, LocalFile), key: self.track(t)}
            for t in page
        ]  # fmt: skip
        more = offset + limit < len(entries)
        nxt = self._link(request, offset=offset + limit) if more else None
        return JSONResponse(
            {"items": items, "limit": limit, "offset": offset, "total": len(entries), "next": nxt}
        )

    async def artists(self, request: Request) -> Response:
        user = self.bearer(request)
        if isinstance(user, Response):
            return user
        self.data.hit("artists")
        if not self.ext:
            return _error(403, "Forbidden")  # Get Several Artists: removed for Development Mode
        ids = [i for i in request.query_params.get("ids", "").split(",") if i]
        if len(ids) > 50:
            return _error(400, "Too many ids requested")
        by_id = _artists()
        return JSONResponse(
            {"artists": [self.artist_obj(by_id[i]) if i in by_id else None for i in ids]}
        )

    async def artist(self, request: Request) -> Response:
        user = self.bearer(request)
        if isinstance(user, Response):
            return user
        self.data.hit("artist")
        found = _artists().get(request.path_params["aid"])
        if found is None:
            return _error(404, "Resource not found")
        return JSONResponse(self.artist_obj(found))


@functools.cache
def _artists() -> dict[str, Any]:
    return {a.id: a for a in generator.world().artists.items}


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": {"status": status, "message": message}}, status_code=status)
