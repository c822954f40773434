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


def prefetch(items: Iterable[T], depth: int = 2, name: str = "trackline-prefetch") -> Iterator[T]:
    """Yield `items` in order while a thread produces up to `depth` ahead.

    An exception in the producer is raised in the consumer at the same position. Closing the
    returned generator early stops the producer at its next step.
    """
    q: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failure(exc))
            return
        put(_DONE)

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
