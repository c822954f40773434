"""Two DirectRunner workers as threads lose nothing, even when the output hand-off stalls.

Beam 2.78's in-process gRPC workers (`--direct_running_mode=multi_threading`) flush their output
every second from a thread of their own, and that flush clears the buffer after handing it to
the send queue: what the DoFn wrote while a full queue made the hand-off wait is dropped. Here
the hand-off of a timed flush is made to wait (as a full queue makes it, under load) while a
DoFn writes to a GroupByKey for a few seconds; every element must arrive. With Beam's own
threads mode elements go missing (`options.py` says why trackline's workers do not).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

beam: Any = pytest.importorskip("apache_beam")

from apache_beam.runners.worker import data_plane  # noqa: E402

from trackline.engines.beam.options import RunnerOptions  # noqa: E402

ELEMENTS = 3_000


class SlowlyEmit(beam.DoFn):  # type: ignore[misc]
    """Writes ELEMENTS keyed values over about 3 s, so timed flushes fall inside the bundle."""

    def process(self, seed: int) -> Iterator[tuple[int, bytes]]:
        for i in range(ELEMENTS):
            if i % 100 == 0:
                time.sleep(0.1)
            yield i % 7, b"x" * 512


def _stalled_timed_flush(monkeypatch: pytest.MonkeyPatch) -> None:
    flush = data_plane.SizeBasedBufferingClosableOutputStream.flush

    def stalled(self: Any) -> None:
        if isinstance(threading.current_thread(), data_plane.PeriodicThread) and self.size():
            data = self.get()
            self._flush_callback(data)
            time.sleep(0.3)  # the send queue is full: the hand-off waits
            self._clear()
            return
        flush(self)

    monkeypatch.setattr(data_plane.SizeBasedBufferingClosableOutputStream, "flush", stalled)


def _run(options: RunnerOptions) -> None:
    """A GroupByKey fed over a few seconds; the pipeline fails unless every element arrives."""
    from apache_beam.testing.util import assert_that, equal_to

    with beam.Pipeline(runner=options.batch_runner(), options=options.pipeline_options()) as p:
        sizes = (
            p
            | beam.Create([0])
            | beam.ParDo(SlowlyEmit())
            | beam.GroupByKey()
            | beam.Map(lambda kv: len(list(kv[1])))
            | beam.CombineGlobally(sum)
        )
        assert_that(sizes, equal_to([ELEMENTS]))


def test_two_worker_threads_lose_nothing_when_the_hand_off_stalls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _stalled_timed_flush(monkeypatch)
    _run(RunnerOptions(num_workers=2))
