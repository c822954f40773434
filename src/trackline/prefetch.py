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
    already works. An exception in the producer is raised in the consumer at the same
    position. `close` (or leaving the `with` block) stops the producer at its next step.
    """

    def __init__(
        self, items: Iterable[T], depth: int = 2, name: str = "trackline-prefetch"
    ) -> None:
        self._items = items
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._produce, name=name, daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

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
