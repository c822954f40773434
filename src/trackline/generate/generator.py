"""Deterministic, realistic records for every built-in dataset, with invalid ones on purpose.

Demos, tests and benchmarks need data that looks like the real sources (skewed genres and
countries, Spotify-like ids, Fake Store products) and that trips every check a contract makes.
Each invalid record breaks exactly one thing and carries the reason code the kernel must
report, so a test can prove the kernel catches it.

How it is built:
- a fixed *catalogue* (artists, tracks, listeners), the same for every seed so that datasets
  generated separately still join; the *records* drawn from it depend on `seed` and `now`;
- one small table-driven spec per dataset: `begin` picks the row's entities and correlated
  numbers (a track and a position inside it, an order's lifecycle, a cart's lines) and
  `fields` maps each field to a cheap projection. A field a user's contract adds without a
  spec gets a value by its type (best effort: its rules and patterns are not honoured);
- an invalid record is a fresh valid one with one mutation, checked against Python mirrors of
  the contract's rules so that, say, a `min` record never also breaks a rule.

Formats (from the output's extension, each optionally `.gz`): NDJSON writes a malformed record
as its broken text on its own line; CSV as a row with the wrong number of columns. A JSON array
and Parquet cannot hold broken text, so malformed records are skipped there, and Parquet's
typed columns cannot hold a `type` record either: skipped records are reported in
`GeneratedFile.skipped` and are not part of `count`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
import random
import re
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from itertools import accumulate, islice
from operator import itemgetter
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from trackline.contracts.loader import ContractRegistry
from trackline.contracts.spec import Contract, FieldSpec
from trackline.errors import UsageError
from trackline.sources.base import Format
from trackline.sources.files import EXTENSIONS  # one table of formats for readers and writers

#: Every kind of invalid record the generator can make, in the order they take turns.
INVALID_KINDS: tuple[str, ...] = (
    "malformed",
    "required",
    "type",
    "min",
    "max",
    "pattern",
    "enum",
    "not_future",
    "rule",
    "duplicate",
)

T = TypeVar("T")
Row = dict[str, Any]
Record = str | Row
Factory = Callable[["_Ctx"], Any]
Getter = Callable[[str], Any]

DAY_MS = 86_400_000
WINDOW_MS = 30 * DAY_MS  # valid event times fall in the 30 days before `now`...
SAFETY_MS = 60_000  # ...and end a minute before it, inside the kernel's not_future tolerance
VARY_RATE = 0.04  # share of normalised values written in odd case or spacing
CHUNK_ROWS = 10_000
ATTEMPTS = 25  # fresh base records a mutation may try before giving up
WS = " \t\r\n"  # what the kernel trims
VARIANT = {h: "89ab"[int(h, 16) & 3] for h in "0123456789abcdef"}  # RFC 4122 variant digit
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class Labelled(NamedTuple):
    """A generated record and what it is.

    `kind` is "valid" or one of INVALID_KINDS; `code` is the reason the kernel must report
    (None for valid records and duplicates); `base` is the valid record a malformed one was
    broken from (the CSV writer writes it with a wrong column count).
    """

    kind: str
    code: str | None
    record: Record
    base: Row | None = None


@dataclass(frozen=True)
class GeneratedFile:
    """What `write` produced: `count == valid + sum(invalid_by_kind.values()) + duplicates`."""

    path: Path
    count: int
    valid: int
    invalid_by_kind: dict[str, int]
    duplicates: int
    format: Format
    compression: str | None = None
    skipped: dict[str, int] = field(default_factory=dict)


# Vocabulary --------------------------------------------------------------------------------
class _Pool(Generic[T]):
    """Weighted choice with one random() and a bisect: cheap enough for the per-row path."""

    __slots__ = ("_cum", "_total", "items")

    def __init__(self, items: Iterable[T], weights: Sequence[float] | None = None) -> None:
        self.items = list(items)
        self._cum = list(accumulate(weights or [1.0] * len(self.items)))
        self._total = self._cum[-1]

    def index(self, rand: Callable[[], float]) -> int:
        return bisect_right(self._cum, rand() * self._total)

    def pick(self, rand: Callable[[], float]) -> T:
        return self.items[bisect_right(self._cum, rand() * self._total)]


def _zipf(n: int, s: float = 1.0) -> list[float]:
    """Rank-frequency weights: a few values dominate and a long tail stays rare, so the
    slice and bias reports have something to show."""
    return [1.0 / k**s for k in range(1, n + 1)]


def _pairs(pairs: Sequence[tuple[T, float]]) -> _Pool[T]:
    return _Pool([p[0] for p in pairs], [p[1] for p in pairs])


GENRE_NAMES = (
    "pop", "hip hop", "rock", "latin", "electronic", "k-pop", "indie", "r&b", "country",
    "metal", "jazz", "classical", "reggaeton", "afrobeats", "folk", "soul", "punk", "blues",
    "bossa nova", "sea shanty",
)  # fmt: skip
GENRES = _Pool(GENRE_NAMES, [w * (0.15 if i >= 18 else 1) for i, w in enumerate(_zipf(20, 1.1))])
COUNTRIES = _pairs([
    ("US", 30), ("GB", 10), ("DE", 8), ("BR", 8), ("JP", 6), ("IN", 6), ("FR", 5), ("MX", 5),
    ("KR", 4), ("SE", 3), ("CA", 3), ("AU", 3), ("ES", 3), ("IT", 2), ("NL", 2), ("PL", 1.5),
    ("ID", 1.2), ("AR", 1), ("NG", 1), ("TR", 1), ("PH", 1), ("ZA", 0.8), ("NZ", 0.3),
    ("IS", 0.05), ("LU", 0.03), ("MN", 0.02),
])  # fmt: skip
CURRENCY = {
    "US": "USD", "GB": "GBP", "BR": "BRL", "JP": "JPY", "IN": "INR", "MX": "MXN", "KR": "KRW",
    "SE": "SEK", "CA": "CAD", "AU": "AUD", "PL": "PLN", "TR": "TRY",
    **{euro: "EUR" for euro in ("DE", "FR", "ES", "IT", "NL", "LU")},
}  # fmt: skip
FX = {"JPY": 150.0, "KRW": 1350.0, "INR": 83.0, "MXN": 17.0, "BRL": 5.0, "SEK": 10.5, "TRY": 32.0}
DEVICES = _pairs([("mobile", 58), ("desktop", 20), ("web", 10), ("speaker", 8), ("tv", 4)])
SHOP_DEVICES = _pairs([("mobile", 62), ("desktop", 30), ("tablet", 8)])
EVENT_TYPES = _pairs([
    ("play", 45), ("skip", 18), ("pause", 15), ("resume", 12), ("like", 6), ("stop", 4),
])  # fmt: skip
ACTIONS = _pairs([("skip", 50), ("like", 35), ("dislike", 15)])
SOURCES = _pairs([("spotify_api", 60), ("spotify_export", 30), ("youtube", 10)])
REASON_END = _pairs([
    ("trackdone", 60), ("fwdbtn", 25), ("endplay", 8), ("backbtn", 4), ("logout", 3),
])  # fmt: skip
TIME_RANGES = _Pool(["short_term", "medium_term", "long_term"])
ACTIVITIES = _pairs([
    ("page_view", 45), ("search", 15), ("add_to_cart", 12), ("login", 10), ("logout", 6),
    ("checkout", 5), ("remove_from_cart", 3),
])  # fmt: skip
CART_ACTIONS = ("add_to_cart", "remove_from_cart")
PAGES = {"search": "/search", "checkout": "/checkout", "login": "/login", "logout": "/"}
PAYMENTS = _pairs([
    ("card", 60), ("paypal", 20), ("bank_transfer", 8), ("gift_card", 7),
    ("cash_on_delivery", 5),
])  # fmt: skip
LIFECYCLES = _pairs([
    (("created", "paid", "shipped", "delivered"), 70),
    (("created", "paid", "shipped", "delivered", "returned"), 6),
    (("created", "paid"), 8), (("created", "cancelled"), 8),
    (("created", "paid", "cancelled"), 5), (("created",), 3),
])  # fmt: skip
REASONS = _pairs([
    ("sale", 55), ("restock", 15), ("return", 12), ("adjustment", 10), ("damage", 8),
])  # fmt: skip
MOVEMENTS = {  # quantity_change range per reason: sales and damage remove stock
    "sale": (-5, -1), "restock": (20, 400), "return": (1, 3), "damage": (-4, -1),
    "adjustment": (-10, 10),
}  # fmt: skip
WAREHOUSES = _Pool([f"WH-{n:02d}" for n in range(1, 13)], _zipf(12, 0.8))
CATEGORIES = _pairs([
    ("electronics", 6), ("women's clothing", 6), ("jewelery", 4), ("men's clothing", 4),
])  # fmt: skip
FAKESTORE_PRODUCTS = _Pool(range(1, 21), _zipf(20, 0.7))  # Fake Store: 20 products...
FAKESTORE_USERS = _Pool(range(1, 11), _zipf(10, 0.5))  # ...and 10 users
CITIES = _pairs([
    ("kilcoole", 5), ("san antonio", 5), ("el paso", 4), ("fresno", 4), ("mesa", 3),
    ("cullman", 2), ("new york", 8), ("london", 6), ("berlin", 4), ("são paulo", 4),
    ("tokyo", 3), ("reykjavík", 0.2),
])  # fmt: skip
ADJ = (
    "Midnight", "Golden", "Electric", "Velvet", "Broken", "Silver", "Neon", "Lonely", "Wild",
    "Summer", "Crimson", "Paper", "Hidden", "Endless", "Frozen", "Burning", "Little", "Lucky",
    "Blue", "Sweet",
)  # fmt: skip
NOUN = (
    "Heart", "City", "Dream", "River", "Fire", "Love", "Echo", "Road", "Night", "Sky", "Ghost",
    "Garden", "Mirror", "Ocean", "Signal", "Rain", "Horizon", "Kingdom", "Satellite", "Wolf",
)  # fmt: skip
FIRST = (
    "Maya", "Leo", "Ana", "Kenji", "Sofia", "Lucas", "Amara", "Jonas", "Priya", "Mateo", "Yuna",
    "Omar", "Elena", "Noah", "Zara", "Felix", "Ines", "Ravi", "Chloe", "Diego",
)  # fmt: skip
LAST = (
    "Rivera", "Kim", "Okafor", "Silva", "Berg", "Tanaka", "Novak", "Haddad", "Sharma", "Costa",
    "Muller", "Dubois", "Park", "Lindqvist", "Moreau", "Santos", "Ito", "Walker", "Nguyen",
    "Garcia",
)  # fmt: skip
RARE_TITLES = ("夜に駆ける", "Ça plane pour moi", "Niño Bonito", "Ты и я", "Café del Mar")
PLAYLISTS = _Pool([
    "Road Trip", "Chill Vibes", "Gym 2024", "Sunday Morning", "Focus", "Party", "Throwbacks",
    "Late Night Drive", "Rainy Day", "Discover Weekly", "Liked from Radio", "música para bailar",
], _zipf(12, 0.6))  # fmt: skip
QUERIES = _Pool([
    "backpack", "usb c cable", "gold ring", "rain jacket women", "ssd 1tb", "t-shirt",
    "monitor 27 inch", "silver bracelet", "wireless earbuds", "winter coat", "mochila",
    "ワンピース",
], _zipf(12, 0.9))  # fmt: skip
#: Per Fake Store category: title adjectives, title nouns, and the price range.
PRODUCT_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], float, float]] = {
    "electronics": (
        ("Portable", "Ultra", "Gaming", "Wireless", "Curved"),
        ("SSD 1TB", "Monitor 27in", "External Hard Drive", "USB-C Hub", "Earbuds"), 10.0, 1000.0,
    ),
    "jewelery": (
        ("Gold", "Silver", "Rose Gold", "Titanium", "Pearl"),
        ("Ring", "Bracelet", "Earrings", "Chain", "Pendant"), 9.0, 700.0,
    ),
    "men's clothing": (
        ("Slim Fit", "Casual", "Cotton", "Classic", "Outdoor"),
        ("T-Shirt", "Jacket", "Backpack", "Shirt", "Hoodie"), 7.0, 120.0,
    ),
    "women's clothing": (
        ("Rain", "Short Sleeve", "Snowboard", "Moisture Wicking", "Casual"),
        ("Jacket", "Top", "Dress", "Coat", "Blouse"), 7.0, 60.0,
    ),
}  # fmt: skip


# The fixed catalogue -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Artist:
    id: str
    name: str
    genre: str
    genres: str
    popularity: int
    followers: int


@dataclass(frozen=True, slots=True)
class _Track:
    id: str
    name: str
    artist: _Artist
    album: str
    duration_ms: int
    popularity: int


@dataclass(frozen=True, slots=True)
class _Listener:
    id: str
    country: str
    device: str


@dataclass(frozen=True)
class _World:
    artists: _Pool[_Artist]
    tracks: _Pool[_Track]
    listeners: _Pool[_Listener]


def _b62(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(B62, k=n))


@cache
def _world() -> _World:
    """Artists, tracks and listeners, built once per process from a fixed seed: the same
    catalogue for every run, so separately generated datasets share track and user ids."""
    rng = random.Random(20240501)
    ch = rng.choice
    artist_names: tuple[Callable[[], str], ...] = (
        lambda: f"The {ch(ADJ)} {ch(NOUN)}s",
        lambda: f"{ch(FIRST)} {ch(LAST)}",
        lambda: f"{ch(ADJ)}{ch(NOUN)}",
        lambda: f"DJ {ch(FIRST)}",
        lambda: f"{ch(FIRST)} & the {ch(NOUN)}s",
    )
    track_names: tuple[Callable[[], str], ...] = (
        lambda: f"{ch(ADJ)} {ch(NOUN)}",
        lambda: f"{ch(NOUN)} of the {ch(NOUN)}",
        lambda: ch(NOUN),
        lambda: f"{ch(ADJ)} {ch(NOUN)} (feat. {ch(FIRST)})",
    )
    artists = []
    for rank in range(400):
        genre = GENRES.pick(rng.random)
        more = sorted({GENRES.pick(rng.random) for _ in range(rng.randint(0, 2))} - {genre})
        pop = max(0, min(100, int(95 - 70 * rank / 400 + rng.gauss(0, 6))))
        followers = int(10 ** (2 + pop / 20 + rng.random()))
        name = ch(artist_names)()
        artists.append(
            _Artist(_b62(rng, 22), name, genre, ", ".join([genre, *more]), pop, followers)
        )
    by_rank = _Pool(artists, _zipf(len(artists), 0.8))
    tracks = []
    for _ in range(5000):
        artist = by_rank.pick(rng.random)
        name = ch(RARE_TITLES) if rng.random() < 0.01 else ch(track_names)()
        album = f"{ch(ADJ)} {ch(NOUN)}" if rng.random() < 0.8 else f"{ch(NOUN)} (Deluxe)"
        duration = int(rng.triangular(90, 420, 200) * 1000)
        pop = max(0, min(100, artist.popularity + rng.randint(-25, 5)))
        tracks.append(_Track(_b62(rng, 22), name, artist, album, duration, pop))
    listeners = [
        _Listener(f"user_{n:04d}", COUNTRIES.pick(rng.random), DEVICES.pick(rng.random))
        for n in range(1, 601)
    ]
    return _World(
        by_rank, _Pool(tracks, _zipf(len(tracks), 0.8)), _Pool(listeners, _zipf(600, 0.9))
    )


# Per-run state -----------------------------------------------------------------------------
_VARIANTS: tuple[Callable[[str], str], ...] = (
    str.upper,
    str.lower,
    str.title,
    lambda s: f" {s}",
    lambda s: f"{s}  ",
    lambda s: f"\t{s}",
)


class _Ctx:
    """What the field factories read: the seeded RNG, the clock, the row's picks (`user`,
    `track`, `v`) and the current group (`g`: a cart, session, order, playlist or top list)."""

    def __init__(self, seed: str, now: datetime, count: int) -> None:
        self.rng = random.Random(seed)
        self.rand = self.rng.random
        self.world = _world()
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
        return _b62(self.rng, n)

    def between(self, lo: int, hi: int) -> int:
        return lo + int(self.rand() * (hi - lo + 1))

    def vary(self, value: str) -> str:
        """Now and then odd case or spacing that the contract normalises away: still valid."""
        if self.rand() >= VARY_RATE:
            return value
        return _VARIANTS[int(self.rand() * len(_VARIANTS))](value)

    def distinct(self, pool: _Pool[T], n: int) -> list[T]:
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


def _v(name: str) -> Factory:
    """A field `begin` put in `ctx.v`."""
    return lambda c: c.v[name]


def _g(name: str) -> Factory:
    """A field of the current group."""
    return lambda c: c.g[name]


def _vary_v(name: str) -> Factory:
    """A normalised field from `ctx.v`, now and then in odd case or spacing."""
    return lambda c: c.vary(c.v[name])


def _vary_g(name: str) -> Factory:
    return lambda c: c.vary(c.g[name])


# Python mirrors of the contracts' rules ----------------------------------------------------
class _Rule(NamedTuple):
    """A rule's check in three-valued logic (None passes, as in the kernel) and a way to
    break it while every field stays in range."""

    holds: Callable[[Getter], bool | None]
    breaks: Callable[[_Ctx, Row], None]


def _le(a: Any, b: Any) -> bool | None:
    return None if a is None or b is None else bool(a <= b)


def _or(*xs: bool | None) -> bool | None:
    if any(x is True for x in xs):
        return True
    return None if any(x is None for x in xs) else False


def _not_in(a: Any, values: tuple[str, ...]) -> bool | None:
    return None if a is None else a not in values


def _twice(x: Any) -> Any:
    return None if x is None else 2 * x


def _exceed(name: str, limit: str, factor: int = 1) -> Callable[[_Ctx, Row], None]:
    """Break `name <= factor * limit` by setting name just above (filling limit if absent)."""

    def breaks(c: _Ctx, row: Row) -> None:
        if not isinstance(row.get(limit), int | float):
            row[limit] = c.between(100, 10_000)
        above = factor * row[limit] + c.between(1, 1000)
        row[name] = round(above + c.rand(), 2) if isinstance(row[limit], float) else above

    return breaks


def _set(**values: Callable[[_Ctx], Any]) -> Callable[[_Ctx, Row], None]:
    def breaks(c: _Ctx, row: Row) -> None:
        row.update({name: make(c) for name, make in values.items()})

    return breaks


# Dataset specs -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Spec:
    """How to make one dataset's rows: `begin` makes the row's picks, `fields` projects them,
    `rules` mirrors the contract's rules by name."""

    fields: dict[str, Factory]
    begin: Callable[[_Ctx], None] = lambda c: None
    rules: dict[str, _Rule] = field(default_factory=dict)


MUSIC: dict[str, Factory] = {
    "user_id": lambda c: c.user.id,
    "track_id": lambda c: c.track.id,
    "track_name": lambda c: c.track.name,
    "artist_id": lambda c: c.track.artist.id,
    "artist_name": lambda c: c.track.artist.name,
    "album_name": lambda c: c.track.album,
    "duration_ms": lambda c: c.track.duration_ms,
    "popularity": lambda c: c.track.popularity,
    "genre": _Ctx.genre,
    "country": _Ctx.country,
}


def _listening_event(c: _Ctx) -> None:
    c.listen()
    kind = EVENT_TYPES.pick(c.rand)
    from_start = kind == "play" and c.rand() < 0.7
    c.v["event_type"] = kind
    c.v["position_ms"] = 0 if from_start else int(c.rand() * c.track.duration_ms)
    c.v["device"] = c.user.device if c.rand() < 0.85 else DEVICES.pick(c.rand)


def _play(c: _Ctx) -> None:
    """A play as the Spotify API, a Spotify export or YouTube reports it."""
    c.listen()
    source = SOURCES.pick(c.rand)
    end = REASON_END.pick(c.rand) if source == "spotify_export" else None
    d = c.track.duration_ms
    if end in (None, "trackdone"):
        played = d if c.rand() < 0.97 else d + int(c.rand() * d * 0.5)  # seeks back run over
    else:
        played = int(c.rand() * d * (0.5 if end == "fwdbtn" else 1.0))
    c.v["source"] = source
    c.v["reason_end"] = end
    c.v["ms_played"] = played
    c.v["skipped"] = None if end is None else end == "fwdbtn"


def _feedback(c: _Ctx) -> None:
    if c.new_group():
        c.size = c.between(5, 30)
        c.g = {"session_id": c.uuid()}
        c.user = c.world.listeners.pick(c.rand)
    c.track = c.world.tracks.pick(c.rand)
    action = ACTIONS.pick(c.rand)
    reach = min(30_000, c.track.duration_ms) if action == "skip" else c.track.duration_ms
    c.v["action"] = action
    c.v["position_ms"] = int(c.rand() * reach)


def _top_list(pool: Callable[[_Ctx], _Pool[Any]]) -> Callable[[_Ctx], None]:
    """A user's top 50 (or 20) for one time range, fetched at one moment: ranks 1..n."""

    def begin(c: _Ctx) -> None:
        if c.new_group():
            c.size = 50 if c.rand() < 0.8 else 20
            c.user = c.world.listeners.pick(c.rand)
            c.g = {
                "time_range": TIME_RANGES.pick(c.rand),
                "fetched_at": c.ts(),
                "items": c.distinct(pool(c), c.size),
            }
        item = c.g["items"][c.pos]
        if isinstance(item, _Track):
            c.track = item
        c.v["item"] = item

    return begin


def _playlist_track(c: _Ctx) -> None:
    if c.new_group():
        c.size = c.between(8, 20) if c.rand() < 0.7 else c.between(21, 60)
        c.user = c.world.listeners.pick(c.rand)
        youtube = c.rand() < 0.25
        c.g = {
            "source": "youtube" if youtube else "spotify",
            "playlist_id": "PL" + c.b62(32) if youtube else c.b62(22),
            "playlist_name": PLAYLISTS.pick(c.rand),
            "fetched_ms": c.t_ms,
            "tracks": c.distinct(c.world.tracks, c.size),
        }
    c.track = c.g["tracks"][c.pos]
    c.v["added_at"] = c.iso(c.start_ms + int(c.rand() * (c.g["fetched_ms"] - c.start_ms)))
    counts: tuple[int | None, ...]
    if c.g["source"] == "youtube":  # views, likes and comments exist only on YouTube
        views = int(10 ** (2 + c.rand() * 6))
        counts = (views, int(views * c.rand() * 0.06), int(views * c.rand() * 0.004), None)
    else:
        counts = (None, None, None, c.track.popularity)
    c.v["view_count"], c.v["like_count"], c.v["comment_count"], c.v["popularity"] = counts


def _product(c: _Ctx) -> None:
    category = CATEGORIES.pick(c.rand)
    adjectives, nouns, lo, hi = PRODUCT_WORDS[category]
    adj, noun = adjectives[int(c.rand() * 5)], nouns[int(c.rand() * 5)]
    c.v["title"] = f"{adj} {noun}"
    c.v["price"] = round(lo + (hi - lo) * c.rand() ** 3, 2)  # most things are cheap
    c.v["category"] = category
    c.v["description"] = f"{adj} {noun.lower()} for every day. {c.between(1, 5)}-year warranty."
    c.v["image"] = f"https://fakestoreapi.com/img/{c.b62(10)}_AC_SL1500_.jpg"
    c.v["rating_rate"] = round(max(0.0, min(5.0, c.rng.gauss(3.9, 0.8))), 1)
    c.v["rating_count"] = int(c.rand() ** 2 * 700)


def _shop_user(c: _Ctx) -> None:
    first, last = FIRST[int(c.rand() * 20)], LAST[int(c.rand() * 20)]
    domain = ("gmail.com", "yahoo.com", "outlook.com", "proton.me")[int(c.rand() * 4)]
    suffix = str(c.between(1, 999)) if c.rand() < 0.5 else ""
    c.v["email"] = f"{first}.{last}{c.serial}@{domain}".lower()
    c.v["username"] = f"{first[0]}{last}{suffix}".lower()
    c.v["firstname"], c.v["lastname"] = first.lower(), last.lower()
    c.v["zipcode"] = f"{c.between(10000, 99999)}-{c.between(1000, 9999)}"
    c.v["phone"] = f"1-{c.between(200, 999)}-{c.between(100, 999)}-{c.between(1000, 9999)}"


def _cart_line(c: _Ctx) -> None:
    """One line of a cart: a cart's lines share its id, user and date, products differ."""
    if c.new_group():
        c.size = 1 + int(c.rand() ** 2 * 5)
        c.g = {
            "cart_id": c.groups,
            "user_id": FAKESTORE_USERS.pick(c.rand),
            "date": c.ts(),
            "products": c.distinct(FAKESTORE_PRODUCTS, c.size),
        }
    c.v["product_id"] = c.g["products"][c.pos]
    c.v["quantity"] = 1 + int(c.rand() ** 3 * 9)


def _order_event(c: _Ctx) -> None:
    """An order's events follow its lifecycle: created, paid, shipped, delivered..."""
    if c.new_group():
        lifecycle = LIFECYCLES.pick(c.rand)
        c.size = len(lifecycle)
        country = COUNTRIES.pick(c.rand)
        currency = CURRENCY.get(country, "USD")
        fx = FX.get(currency, 1.0)
        items = 1 + int(c.rand() ** 3 * 9)
        usd = sum(5 + c.rand() ** 2 * 195 for _ in range(items))
        total = float(round(usd * fx)) if fx > 100 else round(usd * fx, 2)  # no yen cents
        share = c.rand()  # most orders have no discount; some leave the field out
        discount = None if share > 0.85 else 0.0 if share < 0.6 else round(total * share / 4, 2)
        c.g = {
            "lifecycle": lifecycle,
            "order_id": f"ord_{c.b62(12)}",
            "customer_id": f"cust_{1 + int(c.rand() ** 2 * 5000):05d}",
            "items_count": items,
            "total_amount": total,
            "discount_amount": discount,
            "currency": currency,
            "payment_method": PAYMENTS.pick(c.rand),
            "country": country,
        }
    c.v["status"] = c.g["lifecycle"][c.pos]


def _stock_movement(c: _Ctx) -> None:
    """Quantities follow the reason (sales remove, restocks add); stock never goes below 0."""
    product, warehouse = str(FAKESTORE_PRODUCTS.pick(c.rand)), WAREHOUSES.pick(c.rand)
    reason = REASONS.pick(c.rand)
    change = c.between(*MOVEMENTS[reason])
    stock = c.stock.get((product, warehouse)) or c.between(50, 400)
    if stock + change < 0:
        reason, change = "restock", c.between(50, 400)
    c.stock[(product, warehouse)] = stock + change
    c.v["product_id"], c.v["warehouse_id"], c.v["reason"] = product, warehouse, reason
    c.v["quantity_change"], c.v["quantity_after"] = change, stock + change
    c.v["unit_cost"] = round(2 + (int(product) * 7919 % 997) / 5, 2)  # fixed per product


def _shop_activity(c: _Ctx) -> None:
    if c.new_group():
        c.size = c.between(3, 15)
        c.user = c.world.listeners.pick(c.rand)
        c.g = {"session_id": c.uuid(), "device": SHOP_DEVICES.pick(c.rand)}
    kind = ACTIVITIES.pick(c.rand)
    product = str(FAKESTORE_PRODUCTS.pick(c.rand))
    on_product = kind in CART_ACTIONS or (kind == "page_view" and c.rand() < 0.6)
    c.v["activity_type"] = kind
    c.v["product_id"] = product if on_product else None
    c.v["page"] = f"/products/{product}" if on_product else PAGES.get(kind, "/")
    c.v["search_query"] = QUERIES.pick(c.rand) if kind == "search" else None
    c.v["duration_ms"] = 0 if kind == "logout" else int(c.rand() ** 2 * 120_000)


SPECS: dict[str, _Spec] = {
    "listening_events": _Spec(
        begin=_listening_event,
        fields={
            **MUSIC,
            "event_id": _Ctx.uuid,
            "event_type": _vary_v("event_type"),
            "song_id": lambda c: c.track.id,
            "device": _vary_v("device"),
            "position_ms": _v("position_ms"),
            "timestamp": _Ctx.ts,
        },
        rules={
            "position_within_track": _Rule(
                lambda v: _le(v("position_ms"), v("duration_ms")),
                _exceed("position_ms", "duration_ms"),
            )
        },
    ),
    "listens": _Spec(
        begin=_play,
        fields={
            **MUSIC,
            "played_at": _Ctx.ts,
            "ms_played": _v("ms_played"),
            "source": _vary_v("source"),
            "reason_end": _v("reason_end"),
            "skipped": _v("skipped"),
        },
        rules={
            "played_not_above_twice_duration": _Rule(
                lambda v: _le(v("ms_played"), _twice(v("duration_ms"))),
                _exceed("ms_played", "duration_ms", factor=2),
            )
        },
    ),
    "feedback": _Spec(
        begin=_feedback,
        fields={
            **MUSIC,
            "event_id": _Ctx.uuid,
            "session_id": _g("session_id"),
            "action": _vary_v("action"),
            "position_ms": _v("position_ms"),
            "timestamp": _Ctx.ts,
        },
    ),
    "top_tracks": _Spec(
        begin=_top_list(lambda c: c.world.tracks),
        fields={
            **MUSIC,
            "time_range": _vary_g("time_range"),
            "rank": lambda c: c.pos + 1,
            "fetched_at": _g("fetched_at"),
        },
    ),
    "top_artists": _Spec(
        begin=_top_list(lambda c: c.world.artists),
        fields={
            "user_id": lambda c: c.user.id,
            "time_range": _vary_g("time_range"),
            "rank": lambda c: c.pos + 1,
            "artist_id": lambda c: c.v["item"].id,
            "artist_name": lambda c: c.v["item"].name,
            "genre": lambda c: c.vary(c.v["item"].genre),
            "genres": lambda c: c.v["item"].genres,
            "popularity": lambda c: c.v["item"].popularity,
            "followers": lambda c: c.v["item"].followers,
            "fetched_at": _g("fetched_at"),
        },
    ),
    "playlist_tracks": _Spec(
        begin=_playlist_track,
        fields={
            **MUSIC,
            "playlist_id": _g("playlist_id"),
            "source": _vary_g("source"),
            "playlist_name": _g("playlist_name"),
            "view_count": _v("view_count"),
            "like_count": _v("like_count"),
            "comment_count": _v("comment_count"),
            "popularity": _v("popularity"),
            "added_at": _v("added_at"),
            "fetched_at": lambda c: c.iso(c.g["fetched_ms"]),
        },
        rules={
            "likes_not_above_views": _Rule(
                lambda v: _le(v("like_count"), v("view_count")),
                _exceed("like_count", "view_count"),
            ),
            "comments_not_above_views": _Rule(
                lambda v: _le(v("comment_count"), v("view_count")),
                _exceed("comment_count", "view_count"),
            ),
        },
    ),
    "products": _Spec(
        begin=_product,
        fields={
            "id": lambda c: c.serial,
            "title": _v("title"),
            "price": _v("price"),
            "description": _v("description"),
            "category": _vary_v("category"),
            "image": _v("image"),
            "rating_rate": _v("rating_rate"),
            "rating_count": _v("rating_count"),
            "fetched_at": _Ctx.ts,
        },
    ),
    "users": _Spec(
        begin=_shop_user,
        fields={
            "id": lambda c: c.serial,
            "email": _vary_v("email"),
            "username": _v("username"),
            "firstname": _v("firstname"),
            "lastname": _v("lastname"),
            "city": lambda c: c.vary(CITIES.pick(c.rand)),
            "zipcode": _v("zipcode"),
            "phone": _v("phone"),
            "fetched_at": _Ctx.ts,
        },
    ),
    "carts": _Spec(
        begin=_cart_line,
        fields={
            "cart_id": _g("cart_id"),
            "user_id": _g("user_id"),
            "date": _g("date"),
            "product_id": _v("product_id"),
            "quantity": _v("quantity"),
        },
    ),
    "orders": _Spec(
        begin=_order_event,
        fields={
            "event_id": _Ctx.uuid,
            "order_id": _g("order_id"),
            "customer_id": _g("customer_id"),
            "status": _vary_v("status"),
            "order_date": _Ctx.ts,
            "items_count": _g("items_count"),
            "total_amount": _g("total_amount"),
            "discount_amount": _g("discount_amount"),
            "currency": _vary_g("currency"),
            "payment_method": _vary_g("payment_method"),
            "country": _vary_g("country"),
        },
        rules={
            "discount_not_above_total": _Rule(
                lambda v: _le(v("discount_amount"), v("total_amount")),
                _exceed("discount_amount", "total_amount"),
            )
        },
    ),
    "inventory": _Spec(
        begin=_stock_movement,
        fields={
            "event_id": _Ctx.uuid,
            "product_id": _v("product_id"),
            "warehouse_id": _vary_v("warehouse_id"),
            "reason": _vary_v("reason"),
            "quantity_change": _v("quantity_change"),
            "quantity_after": _v("quantity_after"),
            "unit_cost": _v("unit_cost"),
            "timestamp": _Ctx.ts,
        },
        rules={
            "restock_adds_stock": _Rule(
                lambda v: _or(_not_in(v("reason"), ("restock",)), _le(1, v("quantity_change"))),
                _set(reason=lambda c: "restock", quantity_change=lambda c: -c.between(1, 50)),
            ),
            "sale_removes_stock": _Rule(
                lambda v: _or(_not_in(v("reason"), ("sale",)), _le(v("quantity_change"), -1)),
                _set(reason=lambda c: "sale", quantity_change=lambda c: c.between(1, 20)),
            ),
        },
    ),
    "user_activity": _Spec(
        begin=_shop_activity,
        fields={
            "event_id": _Ctx.uuid,
            "user_id": lambda c: c.user.id,
            "session_id": _g("session_id"),
            "activity_type": _vary_v("activity_type"),
            "page": _v("page"),
            "product_id": _v("product_id"),
            "search_query": _v("search_query"),
            "device": _vary_g("device"),
            "country": _Ctx.country,
            "duration_ms": _v("duration_ms"),
            "timestamp": _Ctx.ts,
        },
        rules={
            "cart_actions_name_a_product": _Rule(
                lambda v: _or(
                    _not_in(v("activity_type"), CART_ACTIONS), v("product_id") is not None
                ),
                _set(
                    activity_type=lambda c: CART_ACTIONS[int(c.rand() * 2)],
                    product_id=lambda c: None,
                ),
            )
        },
    ),
}


def _by_type(name: str, spec: FieldSpec, key: bool) -> Factory:
    """A value for a field no spec knows (a user's own contract or added field): best effort,
    within min/max and enum; a pattern is only honoured by leaving an optional field empty."""
    lo = spec.min if spec.min is not None else 0.0
    hi = spec.max if spec.max is not None else lo + 1000.0
    if spec.enum is not None:
        values: list[Any] = list(spec.enum)
        return lambda c: values[int(c.rand() * len(values))]
    if spec.type == "int64":
        if key:
            return lambda c: math.ceil(lo) + c.serial
        return lambda c: c.between(math.ceil(lo), math.floor(hi))
    if spec.type == "float64":
        return lambda c: round(lo + c.rand() * (hi - lo), 2)
    if spec.type == "bool":
        return lambda c: c.rand() < 0.5
    if spec.type == "timestamp":
        return _Ctx.ts
    if spec.type == "date":
        return lambda c: c.ts()[:10]
    if spec.pattern is not None and not (spec.required or key):
        return lambda c: None
    return lambda c: f"{name}_{c.serial}"


# Invalid records ---------------------------------------------------------------------------
BAD_TYPE: dict[str, tuple[str, ...]] = {
    "int64": ("abc", "1e3", "12.5", "1_000", "twelve", "0x1F"),
    "float64": ("abc", "NaN", "1,5", "inf", "12.3.4"),
    "bool": ("yes", "maybe", "2"),
    "timestamp": ("yesterday", "2024-02-30T10:00:00Z", "31/12/2024 10:00", "1715000000"),
    "date": ("tomorrow", "2024-13-01", "01/02/2024"),
}
BAD_PATTERN: dict[str, tuple[str, ...]] = {
    "country": ("USA", "United States", "U.K.", "D E", "1A"),
    "currency": ("US$", "EURO", "€", "DOLLAR"),
    "warehouse_id": ("WH-7", "WH_03", "warehouse 2", "WH-100"),
    "email": ("jane.doe.example.com", "jane@localhost", "jane doe@example.com", "@example.com"),
    "image": ("img/product_1.jpg", "ftp://fakestoreapi.com/img/1.jpg", "//cdn/1.jpg"),
}
Mutation = tuple[str, Row]  # the reason code and the broken record


class _Plan:
    """A contract prepared for generation: factories in field order, candidates per kind."""

    def __init__(self, contract: Contract) -> None:
        spec = SPECS.get(contract.name, _Spec(fields={}))
        fs, keys = contract.fields, set(contract.primary_key)
        self.contract = contract
        self.begin = spec.begin
        self.factories = [
            (n, spec.fields.get(n) or _by_type(n, f, n in keys)) for n, f in fs.items()
        ]
        self.rules = {n: r for n, r in spec.rules.items() if n in contract.rules}
        self.normalize = {n: f.normalize for n, f in fs.items() if f.normalize}
        self.required = [n for n, f in fs.items() if f.required or n in keys]
        self.typed = [n for n, f in fs.items() if f.type != "string"]
        self.with_min = [n for n, f in fs.items() if f.min is not None]
        self.with_max = [n for n, f in fs.items() if f.max is not None]
        self.patterns = {n: re.compile(f.pattern) for n, f in fs.items() if f.pattern}
        self.enums = [n for n, f in fs.items() if f.enum is not None and f.type == "string"]
        self.not_future = [n for n, f in fs.items() if f.not_future]
        self.kinds = applicable_kinds(contract)

    def valid(self, c: _Ctx) -> Row:
        c.next_base()
        self.begin(c)
        return {name: make(c) for name, make in self.factories}

    def normal(self, name: str, value: Any) -> Any:
        """A value as the kernel sees it: trimmed, blank as missing, case-normalised."""
        if not isinstance(value, str):
            return value
        value = value.strip(WS)
        if not value:
            return None
        norm = self.normalize.get(name)
        if norm == "lower_trim":
            return value.lower()
        return value.upper() if norm == "upper_trim" else value

    def reader(self, row: Row, null: str | None = None) -> Getter:
        """Read a row's fields as the kernel would (`null`: a field whose cast will fail)."""
        return lambda n: None if n == null else self.normal(n, row.get(n))

    def rules_hold(self, row: Row, *, null: str | None = None, skip: str | None = None) -> bool:
        """True unless a rule (but `skip`) is false for this row."""
        get = self.reader(row, null)
        return all(r.holds(get) is not False for n, r in self.rules.items() if n != skip)

    def invalid(self, c: _Ctx, kind: str, recent: list[Row]) -> Labelled:
        if kind == "duplicate":
            if recent:
                return Labelled(kind, None, dict(recent[int(c.rand() * len(recent))]))
            kind = "malformed"  # nothing valid to repeat yet (invalid_share == 1)
        for _ in range(ATTEMPTS):
            base = self.valid(c)
            if kind == "malformed":
                return Labelled(kind, "malformed", _broken_json(c, base), base)
            done = MUTATIONS[kind](self, c, dict(base))
            if done is not None:
                return Labelled(kind, *done)
        base = self.valid(c)  # the kind cannot be applied cleanly to this contract
        return Labelled("malformed", "malformed", _broken_json(c, base), base)


def _first_fit(
    p: _Plan, c: _Ctx, kind: str, names: Iterable[str], row: Row, make: Callable[[str], Any]
) -> Mutation | None:
    """Try the candidate fields in random order; keep the first change that breaks no rule
    (`make` returns the bad value for a field, or None when it has none)."""
    names = list(names)
    for name in c.rng.sample(names, len(names)):
        value = make(name)
        if value is None:
            continue
        trial = {**row, name: value}
        if p.rules_hold(trial):
            return f"{kind}:{name}", trial
    return None


def _below(p: _Plan, c: _Ctx, row: Row) -> Mutation | None:
    def make(name: str) -> Any:
        f = p.contract.fields[name]
        lo = f.min or 0.0
        if f.type == "int64":
            return math.ceil(lo) - (1, 1, 5, 100)[int(c.rand() * 4)]
        return round(lo - 0.01 - c.rand() * 10, 2)

    return _first_fit(p, c, "min", p.with_min, row, make)


def _above(p: _Plan, c: _Ctx, row: Row) -> Mutation | None:
    def make(name: str) -> Any:
        f = p.contract.fields[name]
        hi = f.max or 0.0
        if f.type == "int64":
            return math.floor(hi) + (1, 1, 5, 100)[int(c.rand() * 4)]
        return round(hi + 0.01 + c.rand() * 10, 2)

    return _first_fit(p, c, "max", p.with_max, row, make)


def _off_pattern(p: _Plan, c: _Ctx, row: Row) -> Mutation | None:
    def make(name: str) -> Any:
        text = str(row.get(name) or name)
        options = (*BAD_PATTERN.get(name, ()), f"{text[:1]} {text[1:]}", f"#{text}", "?")
        misses = [o for o in options if not p.patterns[name].search(p.normal(name, o) or "")]
        return misses[int(c.rand() * len(misses))] if misses else None

    return _first_fit(p, c, "pattern", p.patterns, row, make)


def _off_enum(p: _Plan, c: _Ctx, row: Row) -> Mutation | None:
    def make(name: str) -> Any:
        allowed = {str(v) for v in p.contract.fields[name].enum or ()}
        text = p.normal(name, row.get(name)) or "x"
        options = (text.replace("_", " "), text.replace("_", "-"), f"{text}s", "unknown", "n/a")
        misses = [o for o in options if p.normal(name, o) not in allowed]
        return misses[int(c.rand() * len(misses))] if misses else None

    return _first_fit(p, c, "enum", p.enums, row, make)


def _in_future(p: _Plan, c: _Ctx, row: Row) -> Mutation | None:
    def make(name: str) -> Any:
        ts = c.iso(c.now_ms + DAY_MS + int(c.rand() * 6 * 3_600_000))
        return ts[:10] if p.contract.fields[name].type == "date" else ts

    return _first_fit(p, c, "not_future", p.not_future, row, make)


def _missing(p: _Plan, c: _Ctx, row: Row) -> Mutation | None:
    name = p.required[int(c.rand() * len(p.required))]
    style = int(c.rand() * 3)
    if style == 0:
        del row[name]
    else:
        row[name] = None if style == 1 else ("", "   ", " \t")[int(c.rand() * 3)]
    return (f"required:{name}", row) if p.rules_hold(row) else None


def _mistyped(p: _Plan, c: _Ctx, row: Row) -> Mutation | None:
    name = p.typed[int(c.rand() * len(p.typed))]
    options = BAD_TYPE[p.contract.fields[name].type]
    row[name] = options[int(c.rand() * len(options))]
    return (f"type:{name}", row) if p.rules_hold(row, null=name) else None


def _against_rule(p: _Plan, c: _Ctx, row: Row) -> Mutation | None:
    for name in c.rng.sample(list(p.rules), len(p.rules)):
        trial = dict(row)
        p.rules[name].breaks(c, trial)
        if p.rules[name].holds(p.reader(trial)) is False and p.rules_hold(trial, skip=name):
            return f"rule:{name}", trial
    return None


MUTATIONS: dict[str, Callable[[_Plan, _Ctx, Row], Mutation | None]] = {
    "required": _missing,
    "type": _mistyped,
    "min": _below,
    "max": _above,
    "pattern": _off_pattern,
    "enum": _off_enum,
    "not_future": _in_future,
    "rule": _against_rule,
}


def _json_encoder() -> Callable[[Any], str]:
    """Compact UTF-8 JSON, as `json.dumps(..., ensure_ascii=False, separators=(",", ":"))`.

    `JSONEncoder.encode` builds a new C encoder on every call; building it once saves a third
    of the encoding time, the largest single cost of writing NDJSON.
    """
    slow = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # not CPython: the pure-Python path gives the same text
        return slow.encode
    fast = make(
        None, slow.default, json.encoder.encode_basestring, None, ":", ",", False, False, True
    )
    join = "".join
    return lambda value: join(fast(value, 0))


ENCODE = _json_encoder()


def _broken_json(c: _Ctx, row: Row) -> str:
    """Broken text the way producers break it: cut off, garbage after, wrong quotes, or valid
    JSON that is not an object. Never contains a newline (one NDJSON line)."""
    text = ENCODE(row)
    style = int(c.rand() * 4)
    if style == 0:
        return text[: max(1, len(text) * 2 // 3)]
    if style == 1:
        return text + ("}", " <EOF>", "]")[int(c.rand() * 3)]
    if style == 2:
        return text.replace('"', "'")
    return ENCODE(list(row.values()))


def applicable_kinds(contract: Contract) -> tuple[str, ...]:
    """The invalid kinds this contract catches: `pattern` needs a field with a pattern, `rule`
    a rule the generator knows how to break, and so on."""
    fs = contract.fields.values()
    spec = SPECS.get(contract.name)
    has = {
        "malformed": True,
        "required": bool(contract.primary_key) or any(f.required for f in fs),
        "type": any(f.type != "string" for f in fs),
        "min": any(f.min is not None for f in fs),
        "max": any(f.max is not None for f in fs),
        "pattern": any(f.pattern for f in fs),
        "enum": any(f.enum is not None and f.type == "string" for f in fs),
        "not_future": any(f.not_future for f in fs),
        "rule": spec is not None and bool(set(spec.rules) & set(contract.rules)),
        "duplicate": True,
    }
    return tuple(k for k in INVALID_KINDS if has[k])


# Public API --------------------------------------------------------------------------------
def _check_args(count: int, invalid_share: float) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise UsageError(f"count must be a whole number >= 0, got {count!r}")
    share_ok = isinstance(invalid_share, int | float) and not isinstance(invalid_share, bool)
    if not share_ok or not 0.0 <= invalid_share <= 1.0:  # also rejects NaN
        raise UsageError(f"invalid share must be between 0 and 1, got {invalid_share!r}")


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def labelled_records(
    contract: Contract,
    count: int,
    *,
    invalid_share: float = 0.0,
    seed: int = 0,
    now: datetime | None = None,
) -> Iterator[Labelled]:
    """`records`, each with its kind and the reason code the kernel must report.

    Exactly round(count * invalid_share) records are invalid, spread evenly; they take the
    applicable kinds in turn from a seeded start, so every kind appears once there are at least
    as many invalid records as kinds. Arguments are checked now, not at the first next().
    """
    _check_args(count, invalid_share)
    return _generate(contract, count, invalid_share, seed, _utc(now))


def _generate(
    contract: Contract, count: int, share: float, seed: int, now: datetime
) -> Iterator[Labelled]:
    plan = _Plan(contract)
    c = _Ctx(f"{contract.name}:{seed}", now, count)  # two datasets never share event ids
    start = c.rng.randrange(len(plan.kinds))
    kinds = plan.kinds[start:] + plan.kinds[:start]
    n_bad, bad, kept = round(count * share), 0, 0
    recent: list[Row] = []  # the last valid records, for duplicates (redeliveries come soon)
    valid = plan.valid
    for i in range(count):
        c.slot = i
        if n_bad and (i + 1) * n_bad // count > bad:
            yield plan.invalid(c, kinds[bad % len(kinds)], recent)
            bad += 1
            continue
        row = valid(c)
        if kept < 16:
            recent.append(row)
        else:
            recent[kept & 15] = row
        kept += 1
        yield Labelled("valid", None, row)


def records(
    contract: Contract,
    count: int,
    *,
    invalid_share: float = 0.0,
    seed: int = 0,
    now: datetime | None = None,
) -> Iterator[Record]:
    """`count` records for `contract`: JSON-ready dicts, or a str for a malformed record.

    The same seed and `now` give the same records; `now` defaults to the current UTC time and
    valid event times fall in the 30 days before it.
    """
    items = labelled_records(contract, count, invalid_share=invalid_share, seed=seed, now=now)
    return (item.record for item in items)


# Writing -----------------------------------------------------------------------------------
class _Tally:
    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()

    def add(self, items: Iterable[Labelled]) -> None:
        self.kinds.update(map(itemgetter(0), items))


def _chunks(items: Iterator[Labelled]) -> Iterator[list[Labelled]]:
    while chunk := list(islice(items, CHUNK_ROWS)):
        yield chunk


def _writable(chunk: list[Labelled], tally: _Tally, skip: Iterable[str] = ()) -> list[Row]:
    """The chunk's records but malformed text (and kinds in `skip`): what the format holds."""
    keep: list[Row] = []
    for it in chunk:
        if isinstance(it.record, str) or it.kind in skip:
            tally.skipped[it.kind] += 1
        else:
            tally.kinds[it.kind] += 1
            keep.append(it.record)
    return keep


def _ndjson(
    contract: Contract, items: Iterator[Labelled], out: io.BufferedIOBase, tally: _Tally
) -> None:
    encode = ENCODE
    for chunk in _chunks(items):
        tally.add(chunk)
        lines = [r if isinstance(r := it.record, str) else encode(r) for it in chunk]
        out.write(("\n".join(lines) + "\n").encode())


def _json(
    contract: Contract, items: Iterator[Labelled], out: io.BufferedIOBase, tally: _Tally
) -> None:
    sep = "[\n"
    for chunk in _chunks(items):
        keep = _writable(chunk, tally)
        if keep:
            out.write((sep + ",\n".join(map(ENCODE, keep))).encode())
            sep = ",\n"
    out.write(b"[]\n" if sep == "[\n" else b"\n]\n")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _csv(
    contract: Contract, items: Iterator[Labelled], out: io.BufferedIOBase, tally: _Tally
) -> None:
    names = list(contract.fields)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")

    def flush() -> None:
        out.write(buf.getvalue().encode())
        buf.seek(0)
        buf.truncate()

    writer.writerow(names)
    flush()
    for chunk in _chunks(items):
        tally.add(chunk)
        for it in chunk:
            if isinstance(it.record, str):  # a torn row: a column too few or one too many
                cells = [_cell((it.base or {}).get(n)) for n in names]
                cells = cells[:-1] if len(cells) > 1 and len(it.record) % 2 else [*cells, "?"]
            else:
                cells = [_cell(it.record.get(n)) for n in names]
            writer.writerow(cells)
        flush()


ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}


def _column(values: list[Any], kind: str) -> pa.Array:
    """One typed column; a blank string in a non-string column is a null (still `required`)."""
    if kind == "string":
        return pa.array(values, pa.string())
    values = [None if isinstance(v, str) and not v.strip(WS) else v for v in values]
    if kind in ("timestamp", "date"):
        return pa.array(values, pa.string()).cast(ARROW_TYPES[kind])
    return pa.array(values, ARROW_TYPES[kind])


def _parquet(
    contract: Contract, items: Iterator[Labelled], out: io.BufferedIOBase, tally: _Tally
) -> None:
    fs = contract.fields
    schema = pa.schema([(n, ARROW_TYPES[f.type]) for n, f in fs.items()])
    with pq.ParquetWriter(out, schema) as writer:
        for chunk in _chunks(items):
            rows = _writable(chunk, tally, skip=("type",))
            if rows:
                cols = [_column([r.get(n) for r in rows], f.type) for n, f in fs.items()]
                writer.write_table(pa.Table.from_arrays(cols, schema=schema))


Writer = Callable[[Contract, Iterator[Labelled], io.BufferedIOBase, _Tally], None]
WRITERS: dict[Format, Writer] = {
    "ndjson": _ndjson,
    "json": _json,
    "csv": _csv,
    "parquet": _parquet,
}


def output_format(path: Path) -> tuple[Format, str | None]:
    """The format and compression an output path asks for, from its extension."""
    name = path.name.lower()
    compression = "gzip" if name.endswith(".gz") else None
    stem = name.removesuffix(".gz")
    for suffix, fmt in EXTENSIONS.items():
        if stem.endswith(suffix):
            return fmt, compression
    raise UsageError(
        f"cannot tell the format of {path.name!r}: end the name with one of "
        f"{', '.join(EXTENSIONS)}, optionally followed by .gz"
    )


def write(
    dataset: str,
    count: int,
    out: str | Path,
    *,
    invalid_share: float = 0.0,
    seed: int = 0,
    now: datetime | None = None,
    contracts: ContractRegistry | None = None,
) -> GeneratedFile:
    """Generate `count` records of `dataset` into `out`, in the format its extension names.

    The file appears whole or not at all (written beside it, then renamed), and is
    byte-identical for the same arguments (gzip without a timestamp).
    """
    _check_args(count, invalid_share)
    path = Path(out)
    fmt, compression = output_format(path)
    contract = (contracts or ContractRegistry()).get(dataset)
    items = labelled_records(contract, count, invalid_share=invalid_share, seed=seed, now=now)
    tally = _Tally()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with ExitStack() as stack:
            sink: io.BufferedIOBase = stack.enter_context(tmp.open("wb"))
            if compression:
                gz = gzip.GzipFile(filename="", mode="wb", fileobj=sink, mtime=0, compresslevel=6)
                sink = stack.enter_context(gz)
            WRITERS[fmt](contract, items, sink, tally)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    kinds = tally.kinds
    return GeneratedFile(
        path=path,
        count=sum(kinds.values()),
        valid=kinds["valid"],
        invalid_by_kind={k: kinds[k] for k in INVALID_KINDS if kinds[k] and k != "duplicate"},
        duplicates=kinds["duplicate"],
        format=fmt,
        compression=compression,
        skipped=dict(tally.skipped),
    )
