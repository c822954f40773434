"""Run a producer one step ahead of its consumer, in a background thread.

Used where two engines hand batches to each other (file reader -> kernel -> warehouse): each
side releases the GIL while it works, so a bounded queue between them lets both run at once
instead of taking turns. The queue bounds memory to `depth` batches.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class Prefetcher(Iterator[T]):
    """Iterate `items` while a thread, started at once, produces up to `depth` ahead.

    Where a consumer is not ready yet (a run waiting for its inputs' hashes), the producer
    already works. With `lead_bytes`, it may run further ahead than `depth` while the items
    queued (by their `nbytes`, Arrow batches) hold less than that, until `end_lead`: memory
    bounds the head start, not a count. An exception in the producer is raised in the
    consumer at the same position. `close` (or leaving the `with` block) stops the producer
    at its next step.
    """

    def __init__(
        self,
        items: Iterable[T],
        depth: int = 2,
        name: str = "trackline-prefetch",
        *,
        lead_bytes: int = 0,
    ) -> None:
        self._items = items
        # Unbounded queue, bounded under `_room` instead: the bound changes with `end_lead`.
        self._queue: queue.Queue[object] = queue.Queue()
        self._depth = max(1, depth)
        self._lead_bytes = lead_bytes
        self._queued_bytes = 0
        self._room = threading.Condition()
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._produce, name=name, daemon=True)
        self._thread.start()

    def end_lead(self) -> None:
        """From now on, produce at most `depth` ahead."""
        with self._room:
            self._lead_bytes = 0

    def _full(self) -> bool:
        return self._queue.qsize() >= self._depth and self._queued_bytes >= self._lead_bytes

    def _put(self, item: object) -> bool:
        size = _nbytes(item)
        with self._room:
            while self._full() and not self._stop.is_set():
                self._room.wait(0.1)
            if self._stop.is_set():
                return False
            self._queued_bytes += size
            self._queue.put(item)
        return True

    def _produce(self) -> None:
        try:
            for item in self._items:
                if not self._put(item):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(_Failure(exc))
            return
        self._put(_DONE)

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        item = self._queue.get()
        with self._room:
            self._queued_bytes -= _nbytes(item)
            self._room.notify()
        if item is _DONE:
            self._finished = True
            raise StopIteration
        if isinstance(item, _Failure):
            self._finished = True
            raise item.exc
        return item  # type: ignore[return-value]

    def close(self) -> None:
        self._finished = True
        self._stop.set()
        with self._room:
            self._room.notify_all()
        self._thread.join()

    def __enter__(self) -> Prefetcher[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def prefetch(items: Iterable[T], depth: int = 2, name: str = "trackline-prefetch") -> Iterator[T]:
    """Yield `items` in order while a thread produces up to `depth` ahead.

    The thread starts with the first item asked for (see `Prefetcher` to start at once).
    An exception in the producer is raised in the consumer at the same position. Closing the
    returned generator early stops the producer at its next step.
    """
    with Prefetcher(items, depth, name) as ahead:
        yield from ahead


def _nbytes(item: object) -> int:
    size = getattr(item, "nbytes", 0)
    return size if isinstance(size, int) else 0
