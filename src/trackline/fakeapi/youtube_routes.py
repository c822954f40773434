"""YouTube Data API v3 look-alike: playlists (mine), playlist items, videos (up to 50 ids),
with page tokens, string statistics that are sometimes absent, ISO 8601 durations, and a quota
counter (units per call) that answers 403 quotaExceeded when spent. Items carry
`snippet.publishedAt` (added to the playlist) and `contentDetails.videoPublishedAt`. Tests script
403s in Google's error shape (`refuse("rateLimitExceeded")`) and hide a video's likes or comments
(`hide(video_id)`), as the Data API v3 does for hidden likes and disabled comments."""

from __future__ import annotations

import hashlib
import random
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trackline.generate import generator

PREFIX = "/youtube/v3"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@dataclass
class _Video:
    id: str
    title: str
    channel: str
    duration: str
    views: int
    likes: int | None
    comments: int | None
    published: str = "2023-06-01T12:00:00Z"


@dataclass
class YouTubeData:
    playlists_per_user: int = 2
    videos_per_playlist: int = 30
    seed: int = 7
    daily_quota: int = 10_000
    used: int = 0
    _videos: dict[str, _Video] = field(default_factory=dict)
    _lists: dict[str, list[tuple[str, str, list[str]]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _refusals: deque[str] = field(default_factory=deque)

    def refuse(self, reason: str, times: int = 1) -> None:
        """Answer the next `times` calls 403 with `reason` (quotaExceeded, rateLimitExceeded)."""
        with self._lock:
            self._refusals.extend([reason] * times)

    def refusal(self) -> str | None:
        with self._lock:
            return self._refusals.popleft() if self._refusals else None

    def hide(self, vid: str, likes: bool = True, comments: bool = True) -> None:
        """The owner hid the likes and/or disabled comments: the statistic is absent."""
        with self._lock:
            v = self._videos[vid]
            v.likes = None if likes else v.likes
            v.comments = None if comments else v.comments

    def charge(self, units: int) -> bool:
        with self._lock:
            if self.used + units > self.daily_quota:
                return False
            self.used += units
            return True

    def lists(self, user: str) -> list[tuple[str, str, list[str]]]:
        with self._lock:
            if user not in self._lists:
                self._lists[user] = self._build(user)
            return self._lists[user]

    def _build(self, user: str) -> list[tuple[str, str, list[str]]]:
        rng = random.Random(f"{self.seed}:youtube:{user}")
        world = generator.world()
        out = []
        for i in range(self.playlists_per_user):
            pid = "PL" + hashlib.sha1(f"{self.seed}:{user}:{i}".encode()).hexdigest()[:32]
            ids = []
            for _ in range(self.videos_per_playlist):
                t = world.tracks.pick(rng.random)
                vid = "".join(B64[b % 64] for b in hashlib.sha1(t.id.encode()).digest()[:11])
                if vid not in self._videos:
                    self._videos[vid] = _video(vid, t, random.Random(vid))
                ids.append(vid)
            out.append((pid, generator.PLAYLISTS.pick(rng.random), list(dict.fromkeys(ids))))
        return out

    def video(self, vid: str) -> _Video | None:
        with self._lock:
            return self._videos.get(vid)


def _video(vid: str, t: Any, rng: random.Random) -> _Video:
    secs = t.duration_ms // 1000
    h, m, s = secs // 3600, secs % 3600 // 60, secs % 60
    duration = "PT" + (f"{h}H" if h else "") + (f"{m}M" if m else "") + (f"{s}S" if s else "")
    views = int(10 ** (3 + t.popularity / 20 + rng.random()))
    likes = None if rng.random() < 0.08 else int(views * rng.uniform(0.005, 0.06))
    comments = None if rng.random() < 0.1 else int(views * rng.uniform(0.0002, 0.004))
    published = _stamp(rng.randrange(0, 3 * 365 * 86400), 2020)
    return _Video(vid, f"{t.artist.name} - {t.name} (Official Video)", t.artist.name,
                  duration if duration != "PT" else "P0D", views, likes, comments,
                  published)  # fmt: skip


def _stamp(seconds: int, year: int) -> str:
    """An RFC 3339 UTC time `seconds` after the start of `year`, as the API writes them."""
    start = datetime(year, 1, 1, tzinfo=UTC)
    return (start + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


# Google's error body for each scripted 403 reason (YouTube Data API v3 "Errors" reference).
_REFUSALS = {
    "quotaExceeded": ("youtube.quota", "The request cannot be completed because you have "
                      "exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>."),
    "rateLimitExceeded": ("usageLimits", "Rate Limit Exceeded"),
    "userRateLimitExceeded": ("usageLimits", "User Rate Limit Exceeded"),
}  # fmt: skip


def _refused(reason: str) -> Response:
    domain, message = _REFUSALS.get(reason, ("global", reason))
    return JSONResponse(
        {"error": {"code": 403, "message": message,
         "errors": [{"message": message, "domain": domain, "reason": reason}]}},
        status_code=403,
    )  # fmt: skip


class YouTubeAPI:
    def __init__(self, data: YouTubeData, bearer: Any) -> None:
        self.data = data
        self.bearer = bearer

    def routes(self) -> list[Route]:
        return [
            Route(f"{PREFIX}/playlists", self.playlists),
            Route(f"{PREFIX}/playlistItems", self.playlist_items),
            Route(f"{PREFIX}/videos", self.videos),
        ]

    def _guard(self, request: Request) -> str | Response:
        user = self.bearer(request)
        if isinstance(user, Response):
            return user
        reason = self.data.refusal()
        if reason is not None:
            return _refused(reason)
        if not self.data.charge(1):
            return _refused("quotaExceeded")
        return str(user)

    async def playlists(self, request: Request) -> Response:
        user = self._guard(request)
        if isinstance(user, Response):
            return user
        lists = self.data.lists(user)
        items = [
            {"kind": "youtube#playlist", "id": pid, "snippet": {"title": name,
             "channelTitle": user}, "contentDetails": {"itemCount": len(ids)}}
            for pid, name, ids in lists
        ]  # fmt: skip
        return _paged(request, items, "youtube#playlistListResponse")

    async def playlist_items(self, request: Request) -> Response:
        user = self._guard(request)
        if isinstance(user, Response):
            return user
        pid = request.query_params.get("playlistId", "")
        found = [x for x in self.data.lists(user) if x[0] == pid]
        if not found:
            return JSONResponse(
                {"error": {"code": 404, "message": "playlistNotFound",
                 "errors": [{"reason": "playlistNotFound"}]}}, status_code=404)  # fmt: skip
        items = [
            {"kind": "youtube#playlistItem", "id": f"{pid}.{i}",
             "snippet": {"playlistId": pid, "position": i, "title": self._title(vid),
                         "publishedAt": _stamp(i * 86400 + 3600, 2024),
                         "resourceId": {"kind": "youtube#video", "videoId": vid}},
             "contentDetails": {"videoId": vid, "videoPublishedAt": self._published(vid)}}
            for i, vid in enumerate(found[0][2])
        ]  # fmt: skip
        return _paged(request, items, "youtube#playlistItemListResponse")

    def _title(self, vid: str) -> str:
        v = self.data.video(vid)
        return v.title if v else ""

    def _published(self, vid: str) -> str:
        v = self.data.video(vid)
        return v.published if v else "1970-01-01T00:00:00Z"

    async def videos(self, request: Request) -> Response:
        user = self._guard(request)
        if isinstance(user, Response):
            return user
        ids = [i for i in request.query_params.get("id", "").split(",") if i]
        if len(ids) > 50:
            return JSONResponse({"error": {"code": 400, "message": "too many ids"}}, 400)
        items = []
        for vid in ids:
            v = self.data.video(vid)
            if v is None:
                continue
            stats: dict[str, str] = {"viewCount": str(v.views), "favoriteCount": "0"}
            if v.likes is not None:
                stats["likeCount"] = str(v.likes)
            if v.comments is not None:
                stats["commentCount"] = str(v.comments)
            items.append(
                {"kind": "youtube#video", "id": v.id,
                 "snippet": {"title": v.title, "channelTitle": v.channel, "categoryId": "10",
                             "publishedAt": v.published},
                 "contentDetails": {"duration": v.duration}, "statistics": stats}
            )  # fmt: skip
        return JSONResponse({"kind": "youtube#videoListResponse", "items": items,
                             "pageInfo": {"totalResults": len(items),
                                          "resultsPerPage": len(items)}})  # fmt: skip


def _paged(request: Request, items: list[dict[str, Any]], kind: str) -> Response:
    q = request.query_params
    size = min(50, max(0, int(q.get("maxResults", "5"))))
    start = int(q.get("pageToken", "0") or 0) if q.get("pageToken", "0").isdigit() else 0
    page = items[start : start + size]
    body: dict[str, Any] = {
        "kind": kind,
        "items": page,
        "pageInfo": {"totalResults": len(items), "resultsPerPage": size},
    }
    if start + size < len(items):
        body["nextPageToken"] = str(start + size)
    return JSONResponse(body)
