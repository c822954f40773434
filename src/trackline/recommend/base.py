"""What every recommender returns, and the registry that picks one by name.

A recommender reads a `plays` relation (one row per play: user_id, track_id) from a DuckDB
connection and never returns what it must exclude: for one member, anything they played; for
a group, anything every member played (a track some members know is a fair group pick, and the
reason says so).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import duckdb

from trackline.errors import UsageError


@dataclass(frozen=True)
class Recommendation:
    track_id: str
    score: float
    reason: str
    track_name: str | None = None
    artist_name: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Recommender(Protocol):
    name: str

    def recommend(
        self, con: duckdb.DuckDBPyConnection, users: Sequence[str], n: int
    ) -> list[Recommendation]: ...


Factory = Callable[[int], Recommender]
_REGISTRY: dict[str, Factory] = {}


def register(name: str) -> Callable[[Factory], Factory]:
    def deco(factory: Factory) -> Factory:
        _REGISTRY[name] = factory
        return factory

    return deco


def get(name: str, seed: int = 0) -> Recommender:
    """The recommender called `name`, seeded (the same seed gives the same list)."""
    from trackline.recommend import als, knn  # noqa: F401  (register themselves)

    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise UsageError(
            f"unknown recommender {name!r}; known: {', '.join(sorted(_REGISTRY))}"
        ) from None
    return factory(seed)


def reason(group_size: int, in_group: int, neighbours: int) -> str:
    if group_size > 1 and in_group > 0:
        return f"listened to by {in_group} of your group"
    if neighbours > 0:
        noun = "listener" if neighbours == 1 else "listeners"
        return f"listened to by {neighbours} {noun} with similar taste"
    return "popular with everyone"
