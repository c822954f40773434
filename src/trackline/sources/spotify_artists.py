"""Artists' genres for Spotify records: the batch endpoint (`GET /artists?ids=`, 50 ids a call)
when the app may use it, else one call per artist (`GET /artists/{id}`).

Spotify removed "Get Several Artists" for Development Mode apps (February 2026); such an app gets
403. The first 403 switches the fetch to single-artist calls, and every genre found is cached
for the rest of the run and shared by all users of that run (artists are public catalogue data,
the same for everyone), so each artist costs one call per run at most. When the single endpoint
is refused too, genres are skipped with a note and a permanent failure: nothing else is lost.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from trackline.core.http.client import HttpStatusError

#: a batch or single artist endpoint refused to this app for good
REFUSED = (403, 404)


@dataclass
class ArtistCache:
    """Genres per artist id for one run (all users), and what the app may call."""

    genres: dict[str, list[str]] = field(default_factory=dict)
    batch_ok: bool | None = None  # None until the first batch call answers
    single_refused: HttpStatusError | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _probe: threading.Lock = field(default_factory=threading.Lock)
    _pending: dict[str, threading.Event] = field(default_factory=dict)

    @property
    def batch_refused(self) -> bool:
        return self.batch_ok is False

    def batch(self, api: Any, ids: list[str]) -> None:
        """Genres of `ids` by the batch endpoint, 50 a call. The first call of the run is made
        by one user at a time, so the others learn whether the app may use it before trying."""
        chunks = [ids[i : i + 50] for i in range(0, len(ids), 50)]
        if self.batch_ok is None:
            with self._probe:
                if self.batch_ok is None:
                    self._call(api, chunks.pop(0))
        for chunk in chunks:
            if self.batch_ok is False:
                return
            self._call(api, chunk)

    def _call(self, api: Any, chunk: list[str]) -> None:
        try:
            body = api.get("artists", {"ids": ",".join(chunk)})
        except HttpStatusError as exc:
            if exc.status not in REFUSED:
                raise
            self.batch_ok = False
            return
        self.batch_ok = True
        for a in body.get("artists") or [] if isinstance(body, dict) else []:
            self.put(a)

    def put(self, artist: Any) -> None:
        if isinstance(artist, dict) and artist.get("id"):
            found = [g for g in artist.get("genres") or [] if isinstance(g, str)]
            with self._lock:
                self.genres[str(artist["id"])] = found


def cache_for(ctx: Any) -> ArtistCache:
    cache: ArtistCache = ctx.shared.setdefault("spotify:artists", ArtistCache())
    return cache


def artist_genres(api: Any, ctx: Any, ids: Iterable[str]) -> dict[str, list[str]]:
    """Genres per artist id; notes how they were found when the batch endpoint is refused."""
    cache = cache_for(ctx)
    wanted = sorted(set(ids))
    missing = [i for i in wanted if i not in cache.genres]
    if missing and not cache.batch_refused:
        cache.batch(api, missing)
    missing = [i for i in wanted if i not in cache.genres]
    singles = 0
    if missing and cache.batch_refused and cache.single_refused is None:
        singles = _one_by_one(api, cache, missing)
    if cache.batch_refused and wanted:
        how = (
            f"one GET /artists/{{id}} per artist instead ({singles} calls in this fetch; "
            "the rest cached for the run)"
            if cache.single_refused is None
            else "GET /artists/{id} is refused too: genres are left empty"
        )
        ctx.notes.append(
            "artists: GET /artists?ids= is refused to this app (Spotify removed it for "
            f"Development Mode apps in February 2026); {how}"
        )
    if cache.single_refused is not None:
        raise cache.single_refused  # reported by ctx.endpoint as a permanent failure
    return {i: cache.genres[i] for i in wanted if i in cache.genres}


def _one_by_one(api: Any, cache: ArtistCache, ids: list[str]) -> int:
    """`GET /artists/{id}` for each id no user of the run has asked yet; an id another user is
    asking right now is waited for, not asked twice. Returns the calls made."""
    calls = [0]

    def one(artist_id: str) -> None:
        with cache._lock:
            if cache.single_refused is not None or artist_id in cache.genres:
                return
            waiting = cache._pending.get(artist_id)
            if waiting is None:
                mine = cache._pending[artist_id] = threading.Event()
                calls[0] += 1
        if waiting is not None:
            waiting.wait(timeout=60)
            return
        try:
            cache.put(api.get(f"artists/{artist_id}"))
        except HttpStatusError as exc:
            if exc.status == 404:  # an artist gone from the catalogue: no genres
                with cache._lock:
                    cache.genres[artist_id] = []
            elif exc.status in REFUSED:
                cache.single_refused = exc
            else:
                raise
        finally:
            mine.set()

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="trackline-artists") as pool:
        list(pool.map(one, ids))
    return calls[0]
