"""The one retry policy: every caller that waits out a transient failure (the bus, the HTTP
client) retries through `Backoff`, on tenacity.

Waits grow exponentially from `first` up to `most`, each stretched by a random share of up to
half again (jitter), so clients that failed together do not all come back at the same instant.
Retrying stops when `attempts` tries are spent or the `deadline` (seconds since the first try)
has passed; the wait before the last try is cut short so that try starts at the deadline, not
after it. A server may ask for a wait (`at_least`, e.g. Retry-After): the wait is never
shorter, and a wait past the deadline is not started at all. Each retry logs one line with the
event, what was tried, the attempt, the wait and the error as the caller's `describe` shows it
(by default its type name only, so no secret reaches the log). After the last try the last
error is raised as it was; callers turn it into their own message.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from tenacity import RetryCallState, Retrying

log = logging.getLogger(__name__)

T = TypeVar("T")
#: Which errors are worth another try: exception types, or a test of the error.
Transient = tuple[type[BaseException], ...] | Callable[[BaseException], bool]


def type_name(exc: BaseException) -> str:
    """An error as its type name alone: the safe default for a log line."""
    return type(exc).__name__


@dataclass(frozen=True)
class Backoff:
    """How often and how long to wait before trying again."""

    first: float = 0.05  # the shortest first wait, in seconds
    most: float = 1.0  # the un-jittered wait stops growing here
    attempts: int | None = None  # tries in all (1 = no retry); None: only the deadline stops
    deadline: float | None = None  # seconds after the first try; no wait starts past it

    def wait(self, attempt: int, *, left: float | None = None, at_least: float = 0.0) -> float:
        """The wait after failed try number `attempt` (1-based): exponential, jittered, cut
        to the `left` seconds before the deadline, never under `at_least` (a server's ask)."""
        base = min(self.most, self.first * 2.0 ** (attempt - 1))
        jittered = base * random.uniform(1.0, 1.5)
        if at_least > 0:
            # never earlier than asked; a little jitter so clients told alike spread out
            return at_least + jittered * 0.1
        return jittered if left is None else max(0.0, min(jittered, left))

    def retrying(
        self,
        transient: Transient,
        *,
        event: str,
        what: str,
        describe: Callable[[BaseException], str] = type_name,
        at_least: Callable[[BaseException], float | None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[RetryCallState], None] | None = None,
        logger: logging.Logger = log,
        level: int = logging.WARNING,
    ) -> Retrying:
        """A tenacity `Retrying` that applies this policy; call it with the function to run.

        `event` and `what` start the log line (`what` must already be redacted); `at_least`
        reads a server's requested wait from an error; `on_retry` runs before each wait.
        """
        from tenacity import Retrying, retry_if_exception  # asyncio and all: not at CLI start

        def retry_on(exc: BaseException) -> bool:
            return isinstance(exc, transient) if isinstance(transient, tuple) else transient(exc)

        def asked(state: RetryCallState) -> float:
            exc = _error(state)
            value = at_least(exc) if at_least is not None and exc is not None else None
            return value or 0.0

        def left(state: RetryCallState) -> float | None:
            if self.deadline is None:
                return None
            return self.deadline - (state.seconds_since_start or 0.0)

        def stop(state: RetryCallState) -> bool:
            if self.attempts is not None and state.attempt_number >= self.attempts:
                return True
            remaining = left(state)
            return remaining is not None and (remaining <= 0 or asked(state) > remaining)

        def wait(state: RetryCallState) -> float:
            return self.wait(state.attempt_number, left=left(state), at_least=asked(state))

        def before_sleep(state: RetryCallState) -> None:
            if on_retry is not None:
                on_retry(state)
            exc = _error(state)
            logger.log(
                level,
                "%s %s attempt=%d wait_s=%.2f error=%s",
                event,
                what,
                state.attempt_number,
                state.next_action.sleep if state.next_action is not None else 0.0,
                describe(exc) if exc is not None else "",
            )

        return Retrying(
            retry=retry_if_exception(retry_on),
            stop=stop,
            wait=wait,
            sleep=sleep,
            before_sleep=before_sleep,
            reraise=True,
        )

    def call(self, fn: Callable[[], T], transient: Transient, *, event: str, what: str) -> T:
        """Run `fn` under this policy (the common case: retry `transient` errors, log, reraise)."""
        result: T = self.retrying(transient, event=event, what=what)(fn)
        return result


def _error(state: RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome is not None else None
