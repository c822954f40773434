"""One run's state: the seeded RNG, the clock, the row's picks and the current group.

Everything a row maker or a field reads comes from here, so the same seed and `now` give the
same records. The helpers are on the per-row path and kept cheap.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from trackline.generate.catalogue import b62, world
from trackline.generate.pools import Pool

T = TypeVar("T")
Row = dict[str, Any]

DAY_MS = 86_400_000
WINDOW_MS = 30 * DAY_MS  # valid event times fall in the 30 days before `now`...
SAFETY_MS = 60_000  # ...and end a minute before it, inside the kernel's not_future tolerance
VARY_RATE = 0.04  # share of normalised values written in odd case or spacing
VARIANT = {h: "89ab"[int(h, 16) & 3] for h in "0123456789abcdef"}  # RFC 4122 variant digit

_VARIANTS: tuple[Callable[[str], str], ...] = (
    str.upper,
    str.lower,
    str.title,
    lambda s: f" {s}",
    lambda s: f"{s}  ",
    lambda s: f"\t{s}",
)


class Ctx:
    """What the row makers and fields read: the seeded RNG, the clock, the row's picks
    (`user`, `track`, `v`) and the current group (`g`: a cart, session, order, playlist or
    top list)."""

    def __init__(self, seed: str, now: datetime, count: int) -> None:
        self.rng = random.Random(seed)
        self.rand = self.rng.random
        self.world = world()
        self.now_ms = int(now.timestamp() * 1000)
        self.start_ms = self.now_ms - SAFETY_MS - WINDOW_MS
        self.step = WINDOW_MS / max(count, 1)
        self.slot = 0  # output position of the record being made
        self.t_ms = self.start_ms
        self.serial = 0  # base records made so far: ids of products and users
        self.groups = 0  # groups started so far: cart ids
        self.pos = 0  # the row's position in its group
        self.size = 0  # rows in the current group
        self.user = self.world.listeners.items[0]
        self.track = self.world.tracks.items[0]
        self.v: Row = {}
        self.g: Row = {}
        self.stock: dict[tuple[str, str], int] = {}
        self._minute = -1
        self._prefix = ""

    def next_base(self) -> None:
        """Start a record. Times rise with the output position (jittered inside the slot),
        so time-keyed primary keys never collide."""
        self.serial += 1
        self.t_ms = self.start_ms + int((self.slot + self.rand()) * self.step)

    def new_group(self) -> bool:
        """Advance within the current group; True when a new one starts (the caller sizes it)."""
        self.pos += 1
        if self.pos < self.size:
            return False
        self.pos = 0
        self.groups += 1
        return True

    def iso(self, ms: int) -> str:
        """ISO-8601 UTC with milliseconds and 'Z'; the minute prefix is cached (hot path)."""
        minute = ms // 60_000
        if minute != self._minute:
            self._minute = minute
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:", time.gmtime(minute * 60))
        return f"{self._prefix}{ms % 60_000 / 1000:06.3f}Z"

    def ts(self) -> str:
        return self.iso(self.t_ms)

    def uuid(self) -> str:
        """A random version-4 UUID from the seeded RNG (concatenation is the fastest way)."""
        h = f"{self.rng.getrandbits(128):032x}"
        return (
            h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-" + VARIANT[h[16]] + h[17:20] + "-" + h[20:]
        )

    def b62(self, n: int) -> str:
        return b62(self.rng, n)

    def between(self, lo: int, hi: int) -> int:
        return lo + int(self.rand() * (hi - lo + 1))

    def one_of(self, values: tuple[T, ...] | list[T]) -> T:
        return values[int(self.rand() * len(values))]

    def vary(self, value: str) -> str:
        """Now and then odd case or spacing that the contract normalises away: still valid."""
        if self.rand() >= VARY_RATE:
            return value
        return _VARIANTS[int(self.rand() * len(_VARIANTS))](value)

    def distinct(self, pool: Pool[T], n: int) -> list[T]:
        """Up to n different items, weighted (a top list, a playlist, a cart's products)."""
        seen: dict[int, None] = {}
        while len(seen) < min(n, len(pool.items)):
            seen[pool.index(self.rand)] = None
        return [pool.items[i] for i in seen]

    def listen(self) -> None:
        self.user = self.world.listeners.pick(self.rand)
        self.track = self.world.tracks.pick(self.rand)

    def country(self) -> str | None:
        return None if self.rand() < 0.01 else self.vary(self.user.country)

    def genre(self) -> str | None:
        return None if self.rand() < 0.02 else self.vary(self.track.artist.genre)
