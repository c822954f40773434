"""The prefetch helpers: producers run ahead of their consumers, bounded, and stop on close."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from trackline.core.prefetch import Prefetcher, prefetch


def counting(n: int, produced: list[int], fail_at: int | None = None) -> Iterator[int]:
    for i in range(n):
        if i == fail_at:
            raise ValueError(f"bad item {i}")
        produced.append(i)
        yield i


def wait_for(condition: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_a_prefetcher_produces_before_anything_is_asked_for() -> None:
    produced: list[int] = []
    with Prefetcher(counting(100, produced), depth=2) as ahead:
        assert wait_for(lambda: len(produced) >= 2)
        time.sleep(0.2)
        # bounded: the queue's two items and the one waiting to go in, no more
        assert len(produced) <= 3
        assert list(ahead) == list(range(100))


def test_the_lazy_form_waits_for_the_first_request() -> None:
    produced: list[int] = []
    items = prefetch(counting(10, produced))
    time.sleep(0.2)
    assert produced == []
    assert list(items) == list(range(10))


def test_a_producer_error_is_raised_where_the_item_would_have_been() -> None:
    got: list[int] = []
    with (
        pytest.raises(ValueError, match="bad item 3"),
        Prefetcher(counting(10, [], fail_at=3)) as ahead,
    ):
        got.extend(ahead)
    assert got == [0, 1, 2]


def test_closing_early_stops_the_producer() -> None:
    produced: list[int] = []
    ahead = Prefetcher(counting(10_000, produced), depth=2, name="test-close-early")
    assert next(ahead) == 0
    ahead.close()
    stopped_at = len(produced)
    time.sleep(0.2)
    assert len(produced) == stopped_at < 10
    assert not [t for t in threading.enumerate() if t.name == "test-close-early"]
    assert list(ahead) == []


class Sized:
    """An item with Arrow's `nbytes`, as the engine's batches have."""

    def __init__(self, i: int, nbytes: int) -> None:
        self.i, self.nbytes = i, nbytes


def sized(n: int, nbytes: int, produced: list[int]) -> Iterator[Sized]:
    for i in range(n):
        produced.append(i)
        yield Sized(i, nbytes)


def test_a_lead_runs_ahead_by_memory_then_ends_at_the_usual_depth() -> None:
    produced: list[int] = []
    with Prefetcher(sized(1000, 10, produced), depth=2, lead_bytes=55) as ahead:
        # past the depth while the queue holds less than 55 bytes: six items, and one waiting
        assert wait_for(lambda: len(produced) >= 6)
        time.sleep(0.2)
        assert 6 <= len(produced) <= 7
        ahead.end_lead()
        got = [next(ahead).i for _ in range(20)]
        time.sleep(0.2)
        # the queue drained to the usual depth and is refilled no further than that
        assert len(produced) - len(got) <= 3
        got += [item.i for item in ahead]
    assert got == list(range(1000))


def test_without_a_lead_large_items_still_flow_at_the_depth() -> None:
    produced: list[int] = []
    with Prefetcher(sized(50, 1 << 30, produced), depth=2) as ahead:
        assert wait_for(lambda: len(produced) >= 2)
        time.sleep(0.2)
        assert len(produced) <= 3
        assert [item.i for item in ahead] == list(range(50))
