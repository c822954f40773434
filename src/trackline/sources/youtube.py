"""YouTube Data API v3 connector: the user's playlists, their items, and the videos' statistics
(in batches of up to 50 ids) into `playlist_tracks`.

Statistics are strings and may be absent (hidden likes, disabled comments): they stay strings
and the contract casts them, so an absent one is NULL, not 0. Durations are ISO 8601
(`PT4M13S`) converted to milliseconds. Every call is metered against the daily quota
(`youtube_daily_quota`, units per call from `COSTS`), shared by all users of the project and
kept in the state store per Pacific day; a call that would exceed it is not made and the run
stops saying so.

Each item keeps when it was added to the playlist (`snippet.publishedAt` -> `added_at`) and when
the video was published (`contentDetails.videoPublishedAt` -> `video_published_at`). A 403
`quotaExceeded` from the API spends the day's budget here too, so no later user of the project
calls again before midnight Pacific; a 403 `rateLimitExceeded` is retried by the HTTP client's
backoff and, when retries ran, the run's notes say so.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from trackline.auth.oauth import oauth_app
from trackline.auth.tokens import TokenManager
from trackline.core.http import page_token_pages
from trackline.core.http.shapes import items, obj
from trackline.errors import ConfigError, RateLimitedError
from trackline.state.connectors import ConnectorState

DATASETS = ("playlist_tracks",)
NEEDS_USER = True
COSTS = {"playlists": 1, "playlistItems": 1, "videos": 1}
BATCH = 50
_DURATION = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_METER_LOCK = threading.Lock()


def duration_seconds(value: Any) -> float | None:
    """ISO 8601 duration (`PT1H2M3S`, `P1DT5M`, `P0D`) to seconds; None when not one."""
    if not isinstance(value, str):
        return None
    m = _DURATION.match(value.strip())
    if m is None or value.strip() in ("P", "PT") or value.strip().endswith("T"):
        return None
    d, h, mi, s = (m.group(k) for k in "dhms")
    return int(d or 0) * 86400 + int(h or 0) * 3600 + int(mi or 0) * 60 + float(s or 0)


class QuotaMeter:
    """Units spent today against the daily budget, shared through the state store."""

    COLLECTION = "youtube_quota"

    def __init__(self, state: ConnectorState, budget: int, now: datetime | None = None) -> None:
        self.state, self.budget = state, budget
        pacific = (now or datetime.now(UTC)).astimezone(ZoneInfo("America/Los_Angeles"))
        self.day = pacific.strftime("%Y-%m-%d")

    def used(self) -> int:
        doc = self.state.get_doc(self.COLLECTION, self.day)
        return int(doc.get("used", 0)) if doc else 0

    def charge(self, endpoint: str) -> None:
        cost = COSTS.get(endpoint, 1)
        with _METER_LOCK:
            used = self.used()
            if used + cost > self.budget:
                raise RateLimitedError(
                    f"YouTube quota: {used} of {self.budget} units used today (Pacific day "
                    f"{self.day}); {endpoint} costs {cost}, so the run stops before exceeding "
                    "the budget (it resets at midnight Pacific; raise "
                    "TRACKLINE_YOUTUBE_DAILY_QUOTA if your project has more)"
                )
            self.state.put_doc(self.COLLECTION, self.day, {"used": used + cost})

    def exhaust(self) -> None:
        """The API says the project's quota is spent: nothing more is sent today."""
        with _METER_LOCK:
            self.state.put_doc(self.COLLECTION, self.day, {"used": max(self.used(), self.budget)})


class YouTube:
    def __init__(self, ctx: Any) -> None:
        if ctx.state is None:
            raise ConfigError("the YouTube connector needs a state store for tokens and quota")
        self.ctx = ctx
        self.base = ctx.settings.youtube_api_url.rstrip("/")
        self.tokens = TokenManager(
            ctx.state, ctx.http, oauth_app(ctx.settings, "youtube"), ctx.user_id
        )
        self.meter = QuotaMeter(ctx.state, ctx.settings.youtube_daily_quota, ctx.now)

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        endpoint = url.rsplit("/", 1)[-1]
        self.meter.charge(endpoint)
        try:
            return self.ctx.http.get_json(
                f"{self.base}/{endpoint}",
                params,
                auth=self.tokens.headers,
                on_unauthorized=self.tokens.invalidate,
                auth_origin=self.base,
            )
        except RateLimitedError as exc:
            if "quotaExceeded" in str(exc):
                self.meter.exhaust()
                raise RateLimitedError(
                    f"YouTube quota exhausted (403 quotaExceeded on {endpoint}): the project's "
                    f"daily quota is spent, so no YouTube call is made again until it resets at "
                    f"midnight Pacific (day {self.meter.day}); not retried"
                ) from None
            raise


def fetch(ctx: Any) -> None:
    api = YouTube(ctx)
    fetched_at = ctx.now.isoformat()
    retries = ctx.http.stats.retries
    try:
        _fetch(api, ctx, fetched_at)
    finally:
        # the client is shared by users run in parallel, so this count is an upper bound
        retried = ctx.http.stats.retries - retries
        if retried:
            ctx.notes.append(
                f"youtube: {retried} call(s) retried with backoff (403 rateLimitExceeded, "
                "429 or a server error) before answering"
            )


def _fetch(api: YouTube, ctx: Any, fetched_at: str) -> None:
    with ctx.endpoint("playlists", "playlist_tracks"):
        params = {"part": "snippet,contentDetails", "mine": "true", "maxResults": BATCH}
        odd: list[Any] = []  # an entry that is not an object (a null): reported, never dropped
        pages = page_token_pages(api.get, "playlists", params)
        lists = [p for page in pages for p in items(page, odd=odd)]
        ctx.odd_entries("playlists", "playlist_tracks", odd)
        for pl in lists:
            name = f"playlistItems:{pl.get('id')}"
            with ctx.endpoint(name, "playlist_tracks"):
                odd = []
                ctx.emit("playlist_tracks", playlist_rows(api, ctx.user_id, pl, fetched_at, odd))
                ctx.odd_entries(name, "playlist_tracks", odd)


def playlist_rows(
    api: YouTube,
    user_id: str,
    pl: Mapping[str, Any],
    fetched_at: str,
    odd: list[Any] | None = None,
) -> list[dict[str, Any]]:
    """A playlist's videos; an item that is not an object (a null) goes to `odd`."""
    pid = str(pl.get("id"))
    snippet = obj(pl.get("snippet"))
    params = {"part": "snippet,contentDetails", "playlistId": pid, "maxResults": BATCH}
    pages = page_token_pages(api.get, "playlistItems", params)
    entries = [i for page in pages for i in items(page, odd=odd)]
    ids = []
    added: dict[str, Mapping[str, Any]] = {}
    for it in entries:
        details = obj(it.get("contentDetails"))
        if details.get("videoId"):
            vid = str(details["videoId"])
            ids.append(vid)
            # a video listed twice keeps its first entry, as the row keeps its first position
            added.setdefault(vid, it)
    videos = {}
    unique = list(dict.fromkeys(ids))
    for i in range(0, len(unique), BATCH):
        body = api.get(
            "videos",
            {"part": "snippet,contentDetails,statistics", "id": ",".join(unique[i : i + BATCH])},
        )
        # a video the answer lacks (or sends as null) keeps its row with NULL details
        for v in items(body if isinstance(body, dict) else {}):
            videos[str(v.get("id"))] = v
    rows = []
    for vid in unique:
        row = video_record(user_id, pid, snippet.get("title"), vid, videos.get(vid), fetched_at)
        row.update(item_times(added.get(vid, {}), videos.get(vid)))
        rows.append(row)
    return rows


def item_times(item: Mapping[str, Any], video: Mapping[str, Any] | None) -> dict[str, Any]:
    """When the item was added to the playlist, and when its video was published (absent for a
    private or deleted video: the video resource's own `publishedAt` then, else NULL)."""
    published = obj(item.get("contentDetails")).get("videoPublishedAt")
    return {
        "added_at": obj(item.get("snippet")).get("publishedAt"),
        "video_published_at": published or obj(obj(video).get("snippet")).get("publishedAt"),
    }


def video_record(
    user_id: str,
    playlist_id: str,
    playlist_name: Any,
    video_id: str,
    video: Mapping[str, Any] | None,
    fetched_at: str,
) -> dict[str, Any]:
    v = video or {}
    snippet = obj(v.get("snippet"))
    details = obj(v.get("contentDetails"))
    stats = obj(v.get("statistics"))
    secs = duration_seconds(details.get("duration"))
    return {
        "user_id": user_id,
        "playlist_id": playlist_id,
        "track_id": video_id,
        "source": "youtube",
        "playlist_name": playlist_name,
        "track_name": snippet.get("title"),
        "artist_name": snippet.get("channelTitle"),
        "duration_ms": int(secs * 1000) if secs is not None else None,
        "view_count": stats.get("viewCount"),
        "like_count": stats.get("likeCount"),
        "comment_count": stats.get("commentCount"),
        "fetched_at": fetched_at,
    }
