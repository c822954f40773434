"""The fixed catalogue: artists, tracks and listeners every dataset and fake API draws from.

Built once per process from a fixed seed, the same for every run, so separately generated
datasets (and the fake APIs' answers) share track, artist and user ids and can be joined.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import cache

from trackline.generate.pools import Pool, zipf
from trackline.generate.vocabulary import (
    ADJ,
    ARTIST_NAMES,
    COUNTRIES,
    DEVICES,
    GENRES,
    NOUN,
    RARE_TITLES,
    TRACK_NAMES,
    WORDS_BY_SLOT,
)

SEED = 20240501
ARTISTS, TRACKS, LISTENERS = 400, 5000, 600
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Artist:
    id: str
    name: str
    genre: str
    genres: str
    popularity: int
    followers: int


@dataclass(frozen=True, slots=True)
class Track:
    id: str
    name: str
    artist: Artist
    album: str
    duration_ms: int
    popularity: int


@dataclass(frozen=True, slots=True)
class Listener:
    id: str
    country: str
    device: str


@dataclass(frozen=True)
class World:
    """The catalogue, each list weighted by rank: popular artists and tracks come up often."""

    artists: Pool[Artist]
    tracks: Pool[Track]
    listeners: Pool[Listener]


def b62(rng: random.Random, n: int) -> str:
    """n base-62 characters: the shape of a Spotify id."""
    return "".join(rng.choices(B62, k=n))


def _name(rng: random.Random, templates: tuple[str, ...]) -> str:
    """A template with each {slot} filled by a word drawn left to right."""
    template = rng.choice(templates)
    return _SLOT.sub(lambda m: rng.choice(WORDS_BY_SLOT[m.group(1)]), template)


@cache
def world() -> World:
    """The catalogue (built on first use, then shared)."""
    rng = random.Random(SEED)
    artists = []
    for rank in range(ARTISTS):
        genre = GENRES.pick(rng.random)
        more = sorted({GENRES.pick(rng.random) for _ in range(rng.randint(0, 2))} - {genre})
        pop = max(0, min(100, int(95 - 70 * rank / ARTISTS + rng.gauss(0, 6))))
        followers = int(10 ** (2 + pop / 20 + rng.random()))
        name = _name(rng, ARTIST_NAMES)
        artists.append(Artist(b62(rng, 22), name, genre, ", ".join([genre, *more]), pop, followers))
    by_rank = Pool(artists, zipf(len(artists), 0.8))
    tracks = []
    for _ in range(TRACKS):
        artist = by_rank.pick(rng.random)
        name = rng.choice(RARE_TITLES) if rng.random() < 0.01 else _name(rng, TRACK_NAMES)
        if rng.random() < 0.8:
            album = f"{rng.choice(ADJ)} {rng.choice(NOUN)}"
        else:
            album = f"{rng.choice(NOUN)} (Deluxe)"
        duration = int(rng.triangular(90, 420, 200) * 1000)
        pop = max(0, min(100, artist.popularity + rng.randint(-25, 5)))
        tracks.append(Track(b62(rng, 22), name, artist, album, duration, pop))
    listeners = [
        Listener(f"user_{n:04d}", COUNTRIES.pick(rng.random), DEVICES.pick(rng.random))
        for n in range(1, LISTENERS + 1)
    ]
    return World(
        by_rank, Pool(tracks, zipf(len(tracks), 0.8)), Pool(listeners, zipf(LISTENERS, 0.9))
    )
