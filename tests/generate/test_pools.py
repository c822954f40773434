"""Weighted lists written as data: the three shapes, and what picks from them return."""

from __future__ import annotations

import random
from collections import Counter

from trackline.generate.pools import Pool, pool_from_data, zipf


def _counts(pool: Pool[object], n: int = 20_000) -> Counter[object]:
    rand = random.Random(1).random
    return Counter(pool.pick(rand) for _ in range(n))


def test_a_mapping_is_values_with_their_weights() -> None:
    counts = _counts(pool_from_data({"a": 3, "b": 1}))
    assert set(counts) == {"a", "b"}
    assert 2.7 < counts["a"] / counts["b"] < 3.3


def test_a_list_is_equally_likely() -> None:
    counts = _counts(pool_from_data(["x", "y", "z"]))
    assert max(counts.values()) < 1.1 * min(counts.values())


def test_zipf_weights_by_rank_with_a_range_and_a_scale() -> None:
    assert zipf(3, 1.0) == [1.0, 0.5, 1.0 / 3]
    pool = pool_from_data({"zipf": 1.0, "range": [1, 3]})
    assert pool.items == [1, 2, 3]
    counts = _counts(pool)
    assert counts[1] > counts[2] > counts[3]
    scaled = _counts(pool_from_data({"zipf": 1.0, "items": ["a", "b"], "scale": {"a": 0.1}}))
    assert scaled["b"] > 3 * scaled["a"]  # a's rank weight 1.0 scaled to 0.1, below b's 0.5


def test_index_and_pick_agree_at_the_edges() -> None:
    pool = Pool(["a", "b", "c"], [1, 1, 2])
    assert pool.pick(lambda: 0.0) == "a" and pool.index(lambda: 0.0) == 0
    assert pool.pick(lambda: 0.3) == "b"
    assert pool.pick(lambda: 0.99) == "c" and pool.index(lambda: 0.99) == 2
