"""The shared retry policy with real failing-then-succeeding callables and real sleeps."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest

from trackline.core.retry import Backoff


class Flaky:
    """Fails with `error` on its first `fails` calls, then returns how often it was called."""

    def __init__(self, fails: int, error: type[Exception] = ConnectionError) -> None:
        self.fails = fails
        self.error = error
        self.calls: list[float] = []  # monotonic time of each call

    def __call__(self) -> int:
        self.calls.append(time.monotonic())
        if len(self.calls) <= self.fails:
            raise self.error(f"try {len(self.calls)} failed: password=hunter2")
        return len(self.calls)


class Sleeps:
    """A real sleep that remembers each wait it was asked for."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)


def _waits(
    policy: Backoff, fails: int, at_least: Callable[[BaseException], float | None] | None = None
) -> list[float]:
    sleeps = Sleeps()
    retrying = policy.retrying(
        (ConnectionError,), event="t", what="x", sleep=sleeps, at_least=at_least
    )
    retrying(Flaky(fails))
    return sleeps.waits


def test_transient_errors_are_retried_until_success() -> None:
    flaky = Flaky(fails=3)
    got = Backoff(first=0.001, most=0.01).call(flaky, (ConnectionError,), event="t", what="x")
    assert got == 4 and len(flaky.calls) == 4


def test_other_errors_are_raised_at_once() -> None:
    flaky = Flaky(fails=3, error=ValueError)
    with pytest.raises(ValueError, match="try 1"):
        Backoff(first=0.001).call(flaky, (ConnectionError,), event="t", what="x")
    assert len(flaky.calls) == 1


def test_a_test_function_decides_what_is_transient() -> None:
    retrying = Backoff(first=0.001, attempts=5).retrying(
        lambda e: "try 1" in str(e), event="t", what="x"
    )
    assert retrying(Flaky(fails=1)) == 2
    flaky = Flaky(fails=2)
    with pytest.raises(ConnectionError, match="try 2"):
        retrying(flaky)
    assert len(flaky.calls) == 2


def test_attempts_bound_the_tries_and_the_last_error_is_raised() -> None:
    flaky = Flaky(fails=10)
    with pytest.raises(ConnectionError, match="try 3"):
        Backoff(first=0.001, attempts=3).call(flaky, (ConnectionError,), event="t", what="x")
    assert len(flaky.calls) == 3


def test_waits_grow_and_are_jittered_never_below_the_schedule() -> None:
    policy = Backoff(first=0.002, most=0.016, attempts=7)
    runs = [_waits(policy, fails=6) for _ in range(8)]
    for waits in runs:
        assert len(waits) == 6
        for i, wait in enumerate(waits):
            assert wait >= min(policy.most, policy.first * 2**i)  # no sooner than the schedule
        assert waits[3] > waits[0]  # exponential: later waits are longer
    # jitter: clients that fail alike do not all wait alike
    for i in range(6):
        assert len({run[i] for run in runs}) > 1, f"wait {i} is the same in every run"


def test_the_deadline_is_used_whole_and_not_overrun() -> None:
    policy = Backoff(first=0.05, most=0.3, deadline=0.5)
    flaky = Flaky(fails=1000)
    start = time.monotonic()
    with pytest.raises(ConnectionError):
        policy.call(flaky, (ConnectionError,), event="t", what="x")
    last = flaky.calls[-1] - start
    # the last try starts at the deadline (its wait cut short), not a whole wait past it
    assert 0.5 <= last < 0.5 + 0.1
    assert len(flaky.calls) >= 4


def test_a_recovery_inside_the_deadline_succeeds() -> None:
    flaky = Flaky(fails=3)
    assert Backoff(first=0.01, deadline=5.0).call(flaky, (ConnectionError,), event="t", what="x")
    assert len(flaky.calls) == 4


def test_a_servers_requested_wait_is_honoured() -> None:
    waits = _waits(Backoff(first=0.001, attempts=3), fails=1, at_least=lambda _: 0.2)
    assert len(waits) == 1 and waits[0] >= 0.2


def test_a_requested_wait_past_the_deadline_is_not_started() -> None:
    flaky = Flaky(fails=5)
    retrying = Backoff(first=0.001, deadline=1.0).retrying(
        (ConnectionError,), event="t", what="x", at_least=lambda _: 60.0
    )
    start = time.monotonic()
    with pytest.raises(ConnectionError):
        retrying(flaky)
    assert len(flaky.calls) == 1 and time.monotonic() - start < 1.0


def test_one_log_line_per_retry_without_the_error_text(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="trackline.core.retry")
    Backoff(first=0.001).call(Flaky(fails=2), (ConnectionError,), event="bus.retry", what="what=q")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("bus.retry what=q attempt=1 wait_s=")
    assert lines[1].startswith("bus.retry what=q attempt=2 ")
    assert all("error=ConnectionError" in line for line in lines)
    assert "hunter2" not in caplog.text
