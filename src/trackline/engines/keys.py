"""Which rows of a stream carry a key seen for the first time: dedup while loading.

Deciding duplicates before rows reach the warehouse table means the load never deletes, and
DuckDB commits appended row groups as they are instead of rewriting every one a delete touched
(that rewrite cost as much as the load itself).

Keys are held as 64-bit hashes in sorted numpy runs merged by size (a log-structured set): 8
bytes a key, and each batch costs a binary search per run. A hash is not the key, so a row
whose hash was seen is only a *suspect*: the engine sets suspects aside and settles them by
exact key comparison at the end (`stages.settle`); a true hash collision therefore still
loads its row, just later.
"""

from __future__ import annotations

import numpy as np


class SeenKeys:
    """A growing set of 64-bit key hashes."""

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []  # sorted, distinct, sizes decreasing
        self.size = 0

    def first(self, hashes: np.ndarray) -> np.ndarray:
        """For each hash (in stream order): True where it was not seen before, counting the
        earlier rows of this same batch. Records the new hashes."""
        unique, index = _first_occurrences(hashes)
        new = np.ones(len(unique), bool)
        for run in self._runs:
            at = np.minimum(np.searchsorted(run, unique), len(run) - 1)
            new &= run[at] != unique
        mask = np.zeros(len(hashes), bool)
        mask[index[new]] = True
        self._add(unique[new])
        return mask

    def _add(self, hashes: np.ndarray) -> None:
        if not len(hashes):
            return
        self.size += len(hashes)
        self._runs.append(hashes)
        # merge while the newest run is at least half its elder: O(n log n) over the stream
        while len(self._runs) > 1 and 2 * len(self._runs[-1]) >= len(self._runs[-2]):
            young = self._runs.pop()
            merged = self._runs.pop()
            n = len(merged)
            # grow the elder run in place (a large array is remapped, not copied), so the
            # merge holds the two runs once plus the young one, not twice
            merged.resize(n + len(young), refcheck=False)
            merged[n:] = young
            del young
            merged.sort(kind="stable")  # two sorted runs: timsort merges them in one pass
            self._runs.append(merged)

    def clear(self) -> None:
        self._runs = []


def _first_occurrences(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct hashes, sorted, and the position of each one's first occurrence.

    Sorted with numpy's default (vectorised) sort, several times faster here than the stable
    merge sort `np.unique(..., return_index=True)` uses; it may reorder equal hashes, so each
    group of equals takes its smallest position instead. Repeats are rare.
    """
    order = np.argsort(hashes)
    ranked = hashes[order]
    starts = np.ones(len(ranked), bool)
    np.not_equal(ranked[1:], ranked[:-1], out=starts[1:])
    if starts.all():
        return ranked, order
    at = np.flatnonzero(starts)
    return ranked[at], np.minimum.reduceat(order, at)
