"""Weighted choice for the per-row path, and the weight shapes the vocabularies use."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Pool(Generic[T]):
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


def zipf(n: int, s: float = 1.0) -> list[float]:
    """Rank-frequency weights: a few values dominate and a long tail stays rare, so the
    slice and bias reports have something to show."""
    return [1.0 / k**s for k in range(1, n + 1)]


def pool_from_data(spec: Any) -> Pool[Any]:
    """A pool written as data: `{value: weight}`, `{zipf, items | range, scale}` or a list."""
    if isinstance(spec, list):
        return Pool(spec)
    if "zipf" not in spec:
        return Pool(spec, list(spec.values()))
    if "range" in spec:
        lo, hi = spec["range"]
        items: list[Any] = list(range(lo, hi + 1))
    else:
        items = spec["items"]
    scale = spec.get("scale", {})
    ranks = zipf(len(items), spec["zipf"])
    weights = [w * scale.get(item, 1) for item, w in zip(items, ranks, strict=True)]
    return Pool(items, weights)
