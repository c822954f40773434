"""What the fake Spotify knows: per-user plays, playlists and their entries, seeded per user so
every run sees the same world, and the knobs tests turn (API mode, window, page size, extras,
closed and lost playlists)."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from trackline.generate import generator


@dataclass(frozen=True)
class Episode:
    """A podcast episode (the catalogue has none: the fake makes a few)."""

    id: str
    name: str
    show: str
    duration_ms: int


@dataclass(frozen=True)
class LocalFile:
    """A file from the user's own disk added to a playlist: no Spotify id, only a URI."""

    name: str
    artist: str
    album: str
    duration_ms: int

    @property
    def uri(self) -> str:
        return f"spotify:local:{self.artist}:{self.album}:{self.name}:{self.duration_ms // 1000}"


@dataclass(frozen=True)
class Unnamed:
    """A catalogue track served with `name: null` (Spotify does this for some unavailable
    tracks): it is still a track, stored with a NULL name."""

    track: Any


Entry = Any  # a catalogue track, an Episode, a LocalFile or an Unnamed


EPISODES = (
    Episode("4rOoJ6Egrf8K2IrywzwOMk", "Why we listen", "Sound Matters", 2_712_000),
    Episode("512ojhOuo1ktJprKbVcKyQ", "The long tail", "Data Talk", 1_954_000),
)
LOCAL = LocalFile("Demo take 3", "The Garage Band", "Tapes", 187_000)


@dataclass
class _User:
    plays: list[tuple[int, Entry]]  # (played_at ms, what), oldest first
    playlists: list[tuple[str, str, list[Entry]]]  # (id, name, entries)
    country: str


@dataclass
class SpotifyData:
    """Per-user listening worlds, built on first use."""

    plays_per_user: int = 120
    window: int | None = 50  # plays the API can still see (Spotify: 50); None = all
    seed: int = 7
    bad_play_every: int = 0  # every Nth play has a broken played_at (a record to reject)
    # False: the February 2026 Development Mode shapes (the default, what a new app gets);
    # True: the Extended Quota shapes (old `/tracks`, `track`, removed fields present)
    extended_quota: bool = False
    # the first playlist also holds a podcast episode, a local file and a track whose name is
    # null, and the recent plays one episode and one local file (see docs/connectors.md)
    extras: bool = False
    page_size: int = 50  # most plays one recently-played page holds (Spotify: 50)
    # playlist ids whose items answer 403 (closed to the app, as Spotify-owned editorial and
    # algorithmic playlists are) or 404 (deleted); still listed in /me/playlists
    closed_playlists: set[str] = field(default_factory=set)
    lost_playlists: set[str] = field(default_factory=set)
    # answered calls per route (`me`, `recently_played`, `items`, `tracks`, `artists` (batch),
    # `artist`...), for tests to see which endpoints a connector used
    calls: Counter[str] = field(default_factory=Counter)
    _users: dict[str, _User] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hit(self, route: str) -> None:
        with self._lock:
            self.calls[route] += 1

    def user(self, user_id: str) -> _User:
        with self._lock:
            if user_id not in self._users:
                self._users[user_id] = self._build(user_id)
            return self._users[user_id]

    def _build(self, user_id: str) -> _User:
        world = generator.world()
        rng = random.Random(f"{self.seed}:spotify:{user_id}")
        # the newest play an hour ago: room for plays added later, a second or more apart (a
        # listens key holds played_at to the second)
        now = int(time.time() * 1000) - 3_600_000
        plays: list[tuple[int, Entry]] = []
        at = now
        for _ in range(self.plays_per_user):
            plays.append((at, world.tracks.pick(rng.random)))
            at -= rng.randint(60_000, 420_000)
        plays.reverse()
        playlists: list[tuple[str, str, list[Entry]]] = []
        for i in range(3):
            name = generator.PLAYLISTS.pick(rng.random)
            pid = "pl" + hashlib.sha1(f"{self.seed}:{user_id}:{i}".encode()).hexdigest()[:20]
            picks = (world.tracks.pick(rng.random) for _ in range(30))
            entries: list[Entry] = list({t.id: t for t in picks}.values())
            playlists.append((pid, name, entries))
        if self.extras and plays:
            entries = playlists[0][2]
            entries[1] = Unnamed(entries[1])
            entries[2:2] = [EPISODES[0], LOCAL]
            plays[-2] = (plays[-2][0], EPISODES[1])  # one recent play is an episode,
            plays[-3] = (plays[-3][0], LOCAL)  # one a local file
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
