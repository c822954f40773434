"""The prefetch helpers: producers run ahead of their consumers, bounded, and stop on close."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from trackline.prefetch import Prefetcher, prefetch


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
