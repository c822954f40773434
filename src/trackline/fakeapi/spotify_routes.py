"""Spotify Web API look-alike: me, recently played (with Spotify's 50-play window), top items,
playlists and their tracks, artists. Data comes from the generator's catalogue, seeded per
user, so every run sees the same world."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trackline.generate import generator

PREFIX = "/spotify/v1"


def _track(t: Any) -> dict[str, Any]:
    a = t.artist
    return {
        "id": t.id,
        "name": t.name,
        "type": "track",
        "uri": f"spotify:track:{t.id}",
        "duration_ms": t.duration_ms,
        "popularity": t.popularity,
        "explicit": False,
        "artists": [
            {"id": a.id, "name": a.name, "type": "artist", "uri": f"spotify:artist:{a.id}"}
        ],
        "album": {"id": f"al{t.id[:20]}", "name": t.album, "type": "album"},
    }


def _artist(a: Any) -> dict[str, Any]:
    return {
        "id": a.id,
        "name": a.name,
        "type": "artist",
        "genres": [g.strip() for g in a.genres.split(",") if g.strip()],
        "popularity": a.popularity,
        "followers": {"href": None, "total": a.followers},
    }


@dataclass
class _User:
    plays: list[tuple[int, Any]]  # (played_at ms, track), oldest first
    playlists: list[tuple[str, str, list[Any]]]  # (id, name, tracks)
    country: str


@dataclass
class SpotifyData:
    """Per-user listening worlds, built on first use."""

    plays_per_user: int = 120
    window: int | None = 50  # plays the API can still see (Spotify: 50); None = all
    seed: int = 7
    bad_play_every: int = 0  # every Nth play has a broken played_at (a record to reject)
    # playlist ids whose items answer 403 (closed to the app, as Spotify-owned editorial and
    # algorithmic playlists are) or 404 (deleted); still listed in /me/playlists
    closed_playlists: set[str] = field(default_factory=set)
    lost_playlists: set[str] = field(default_factory=set)
    _users: dict[str, _User] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def user(self, user_id: str) -> _User:
        with self._lock:
            if user_id not in self._users:
                self._users[user_id] = self._build(user_id)
            return self._users[user_id]

    def _build(self, user_id: str) -> _User:
        world = generator.world()
        rng = random.Random(f"{self.seed}:spotify:{user_id}")
        now = int(time.time() * 1000) - 120_000
        plays: list[tuple[int, Any]] = []
        at = now
        for _ in range(self.plays_per_user):
            plays.append((at, world.tracks.pick(rng.random)))
            at -= rng.randint(60_000, 420_000)
        plays.reverse()
        playlists = []
        for i in range(3):
            name = generator.PLAYLISTS.pick(rng.random)
            pid = "pl" + hashlib.sha1(f"{self.seed}:{user_id}:{i}".encode()).hexdigest()[:20]
            picks = (world.tracks.pick(rng.random) for _ in range(30))
            tracks = list({t.id: t for t in picks}.values())
            playlists.append((pid, name, tracks))
        return _User(plays, playlists, generator.COUNTRIES.pick(rng.random))

    def playlist_ids(self, user_id: str) -> list[str]:
        return [pid for pid, _, _ in self.user(user_id).playlists]

    def close_playlist(self, playlist_id: str) -> None:
        """Its items answer 403 from now on (the app may not read it)."""
        self.closed_playlists.add(playlist_id)

    def lose_playlist(self, playlist_id: str) -> None:
        """Its items answer 404 from now on (listed, but gone)."""
        self.lost_playlists.add(playlist_id)

    def add_plays(self, user_id: str, n: int) -> None:
        """n new plays, after the latest, ending now (what a user listened to since)."""
        u = self.user(user_id)
        world = generator.world()
        rng = random.Random(f"{self.seed}:more:{user_id}:{len(u.plays)}")
        with self._lock:
            last = u.plays[-1][0] if u.plays else 0
            now = int(time.time() * 1000) - 1000
            step = max(1, (now - last) // (n + 1))
            for i in range(1, n + 1):
                u.plays.append((last + i * step, world.tracks.pick(rng.random)))


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class SpotifyAPI:
    def __init__(self, data: SpotifyData, base: Callable[[], str], bearer: Any) -> None:
        self.data = data
        self.base = base  # the public base URL, for `next` links
        self.bearer = bearer  # (request) -> user or a 401 response

    def routes(self) -> list[Route]:
        p = PREFIX
        return [
            Route(f"{p}/me", self.me),
            Route(f"{p}/me/player/recently-played", self.recently_played),
            Route(f"{p}/me/top/{{kind}}", self.top),
            Route(f"{p}/me/playlists", self.playlists),
            Route(f"{p}/playlists/{{pid}}/tracks", self.playlist_tracks),
            Route(f"{p}/artists", self.artists),
        ]

    def _link(self, request: Request, **params: Any) -> str:
        q = dict(request.query_params)
        q.update({k: str(v) for k, v in params.items()})
        return f"{self.base()}{request.url.path}?{urlencode(q)}"

    async def me(self, request: Request) -> Response:
        user = self.bearer(request)
        if isinstance(user, Response):
            return user
        u = self.data.user(user)
        return JSONResponse(
            {"id": user, "display_name": user.replace("_", " ").title(), "country": u.country,
             "type": "user", "uri": f"spotify:user:{user}"}
        )  # fmt: skip

    async def recently_played(self, request: Request) -> Response:
        user = self.bearer(request)
        if isinstance(user, Response):
            return user
        q = request.query_params
        limit = min(50, max(1, int(q.get("limit", "20"))))
        u = self.data.user(user)
        visible = u.plays[-self.data.window :] if self.data.window else list(u.plays)
        if "after" in q:
            after = int(q["after"])
            newer = [p for p in visible if p[0] > after]
            page = newer[:limit]  # oldest first from the cursor
            more = len(newer) > limit
            items = list(reversed(page))
        else:
            before = int(q.get("before", str(2**62)))
            older = [p for p in visible if p[0] < before]
            page = older[-limit:]
            more = len(older) > limit
            items = list(reversed(page))
        body: dict[str, Any] = {
            "href": self._link(request),
            "limit": limit,
            "items": [self._play(user, ms, t) for ms, t in items],
            "cursors": None,
            "next": None,
        }
        if items:
            newest, oldest = items[0][0], items[-1][0]
            body["cursors"] = {"after": str(newest), "before": str(oldest)}
            if more:
                body["next"] = (
                    self._link(request, after=newest)
                    if "after" in q
                    else self._link(request, before=oldest)
                )
        return JSONResponse(body)

    def _play(self, user: str, ms: int, t: Any) -> dict[str, Any]:
        played = _iso(ms)
        every = self.data.bad_play_every
        if every and (ms // 1000) % every == 0:
            played = "yesterday-ish"
        return {"track": _track(t), "played_at": played, "context": None}

    async def top(self, request: Request) -> Response:
        user = self.bearer(request)
        if isinstance(user, Response):
            return user
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
        render = _track if kind == "tracks" else _artist
        nxt = self._link(request, offset=offset + limit) if offset + limit < total else None
        return JSONResponse(
            {"href": self._link(request), "items": [render(x) for x in page], "limit": limit,
             "offset": offset, "total": total, "next": nxt, "previous": None}
        )  # fmt: skip

    async def playlists(self, request: Request) -> Response:
        user = self.bearer(request)
        if isinstance(user, Response):
            return user
        q = request.query_params
        limit, offset = int(q.get("limit", "20")), int(q.get("offset", "0"))
        lists = self.data.user(user).playlists
        page = lists[offset : offset + limit]
        items = [
            {"id": pid, "name": name, "type": "playlist", "owner": {"id": user},
             "tracks": {"href": f"{self.base()}{PREFIX}/playlists/{pid}/tracks", "total": len(ts)}}
            for pid, name, ts in page
        ]  # fmt: skip
        nxt = self._link(request, offset=offset + limit) if offset + limit < len(lists) else None
        return JSONResponse(
            {"items": items, "limit": limit, "offset": offset, "total": len(lists), "next": nxt}
        )

    async def playlist_tracks(self, request: Request) -> Response:
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
        limit, offset = min(100, int(q.get("limit", "100"))), int(q.get("offset", "0"))
        tracks = found[0][2]
        page = tracks[offset : offset + limit]
        items = [{"added_at": "2024-03-01T10:00:00Z", "track": _track(t)} for t in page]
        nxt = self._link(request, offset=offset + limit) if offset + limit < len(tracks) else None
        return JSONResponse(
            {"items": items, "limit": limit, "offset": offset, "total": len(tracks), "next": nxt}
        )

    async def artists(self, request: Request) -> Response:
        user = self.bearer(request)
        if isinstance(user, Response):
            return user
        ids = [i for i in request.query_params.get("ids", "").split(",") if i]
        if len(ids) > 50:
            return _error(400, "Too many ids requested")
        by_id = {a.id: a for a in generator.world().artists.items}
        return JSONResponse({"artists": [_artist(by_id[i]) if i in by_id else None for i in ids]})


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": {"status": status, "message": message}}, status_code=status)
