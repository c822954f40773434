"""The key-hash set behind streaming dedup."""

from __future__ import annotations

import numpy as np

from trackline.engines.keys import SeenKeys


def test_first_matches_a_plain_set_over_many_batches() -> None:
    rng = np.random.default_rng(7)
    keys = SeenKeys()
    seen: set[int] = set()
    for _ in range(300):
        batch = rng.integers(0, 20_000, int(rng.integers(0, 200))).astype(np.uint64)
        expected = []
        for h in batch.tolist():
            expected.append(h not in seen)
            seen.add(h)
        assert keys.first(batch).tolist() == expected
    assert keys.size == len(seen)


def test_repeats_within_one_batch_keep_the_earliest() -> None:
    keys = SeenKeys()
    assert keys.first(np.array([5, 3, 5, 3, 9], np.uint64)).tolist() == [
        True,
        True,
        False,
        False,
        True,
    ]
    assert keys.first(np.array([9, 1], np.uint64)).tolist() == [False, True]


def test_runs_stay_few_as_the_set_grows() -> None:
    keys = SeenKeys()
    for start in range(0, 100_000, 1_000):
        keys.first(np.arange(start, start + 1_000, dtype=np.uint64))
    assert keys.size == 100_000
    assert len(keys._runs) <= 17  # log-structured: about log2(batches) runs


def test_a_large_batch_of_repeats_keeps_each_hash_at_its_first_position() -> None:
    # large enough for numpy's quicksort to reorder equal hashes (small arrays keep order)
    rng = np.random.default_rng(3)
    batch = rng.integers(0, 5_000, 60_000).astype(np.uint64)
    _, first_at = np.unique(batch, return_index=True)
    expected = np.zeros(len(batch), bool)
    expected[first_at] = True
    assert (SeenKeys().first(batch) == expected).all()
