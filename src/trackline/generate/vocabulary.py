"""The vocabularies records are drawn from, as named constants (data in `data/vocabulary.yaml`).

Names, weights and lists live in the data file; this module gives them the types the row
makers and the fake APIs use: weighted lists as `Pool`s, word lists as tuples.
"""

from __future__ import annotations

from typing import Any

from trackline.generate.datafiles import load
from trackline.generate.pools import Pool, pool_from_data

_DATA: dict[str, Any] = load("vocabulary")
_POOLS: dict[str, Pool[Any]] = {name: pool_from_data(s) for name, s in _DATA["pools"].items()}


def pool(name: str) -> Pool[Any]:
    """A weighted list by its name in the data file (`pick POOL` in a dataset's fields)."""
    try:
        return _POOLS[name]
    except KeyError:
        raise KeyError(f"no vocabulary pool {name!r}; known: {', '.join(_POOLS)}") from None


GENRES: Pool[str] = _POOLS["genres"]
COUNTRIES: Pool[str] = _POOLS["countries"]
DEVICES: Pool[str] = _POOLS["devices"]
SHOP_DEVICES: Pool[str] = _POOLS["shop_devices"]
EVENT_TYPES: Pool[str] = _POOLS["event_types"]
ACTIONS: Pool[str] = _POOLS["actions"]
SOURCES: Pool[str] = _POOLS["sources"]
REASON_END: Pool[str] = _POOLS["reason_end"]
TIME_RANGES: Pool[str] = _POOLS["time_ranges"]
ACTIVITIES: Pool[str] = _POOLS["activities"]
PAYMENTS: Pool[str] = _POOLS["payments"]
REASONS: Pool[str] = _POOLS["reasons"]
WAREHOUSES: Pool[str] = _POOLS["warehouses"]
CATEGORIES: Pool[str] = _POOLS["categories"]
FAKESTORE_PRODUCTS: Pool[int] = _POOLS["fakestore_products"]
FAKESTORE_USERS: Pool[int] = _POOLS["fakestore_users"]
CITIES: Pool[str] = _POOLS["cities"]
PLAYLISTS: Pool[str] = _POOLS["playlists"]
QUERIES: Pool[str] = _POOLS["queries"]
LIFECYCLES: Pool[tuple[str, ...]] = Pool(
    [tuple(steps) for steps, _ in _DATA["lifecycles"]], [w for _, w in _DATA["lifecycles"]]
)

_WORDS: dict[str, list[str]] = _DATA["words"]
ADJ: tuple[str, ...] = tuple(_WORDS["adjectives"])
NOUN: tuple[str, ...] = tuple(_WORDS["nouns"])
FIRST: tuple[str, ...] = tuple(_WORDS["first_names"])
LAST: tuple[str, ...] = tuple(_WORDS["last_names"])
RARE_TITLES: tuple[str, ...] = tuple(_WORDS["rare_titles"])
EMAIL_DOMAINS: tuple[str, ...] = tuple(_WORDS["email_domains"])
#: Name templates: each {adj}, {noun}, {first} or {last} is a word drawn left to right.
ARTIST_NAMES: tuple[str, ...] = tuple(_DATA["names"]["artists"])
TRACK_NAMES: tuple[str, ...] = tuple(_DATA["names"]["tracks"])
WORDS_BY_SLOT: dict[str, tuple[str, ...]] = {"adj": ADJ, "noun": NOUN, "first": FIRST, "last": LAST}

CURRENCY: dict[str, str] = _DATA["currency"]  # USD when a country is not listed
FX: dict[str, float] = _DATA["fx"]  # units per US dollar (1.0 when not listed)
CART_ACTIONS: tuple[str, ...] = tuple(_DATA["cart_actions"])
PAGES: dict[str, str] = _DATA["pages"]
#: quantity_change range per stock movement reason: sales and damage remove stock.
MOVEMENTS: dict[str, tuple[int, int]] = {r: (lo, hi) for r, (lo, hi) in _DATA["movements"].items()}
#: Per Fake Store category: title adjectives, title nouns, and the price range.
PRODUCT_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], float, float]] = {
    category: (tuple(p["adjectives"]), tuple(p["nouns"]), p["price"][0], p["price"][1])
    for category, p in _DATA["products"].items()
}
