"""Pull mode: the worker consumes the `sessions` topic itself (no HTTP in between).

Same rules as the push endpoint: a message is acknowledged once the session's fate is recorded
(ran, or running elsewhere, or finished already); a malformed message, an unknown session or a
state store failure is nacked, so the bus delivers it again and, after its attempts, moves it to
`sessions.dlq` where a person can see it. Workers share the work through one consumer group.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from trackline.config import Settings
from trackline.errors import TracklineError
from trackline.pipelines.base import UserPipeline
from trackline.sessions.runner import run_session
from trackline.sessions.trigger import TOPIC, BadMessageError, parse
from trackline.state import StateStore

log = logging.getLogger(__name__)
DEFAULT_GROUP = "workers"


class Consumer(Protocol):
    """The part of a bus pull mode needs (`trackline.bus.Bus` satisfies it)."""

    def consume(
        self, topic: str, group: str, max_messages: int = 1000, timeout: float = 1.0
    ) -> Sequence[Any]: ...
    def ack(self, topic: str, group: str, messages: Sequence[Any]) -> None: ...
    def nack(self, topic: str, group: str, messages: Sequence[Any]) -> None: ...


@dataclass
class PullSummary:
    ran: int = 0
    acked: int = 0
    nacked: int = 0
    results: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "ran": self.ran,
            "acked": self.acked,
            "nacked": self.nacked,
            "results": self.results,
            "seconds": round(self.seconds, 3),
        }


def pull_loop(
    settings: Settings,
    store: StateStore,
    bus: Consumer,
    worker_id: str,
    *,
    group: str = DEFAULT_GROUP,
    max_sessions: int | None = None,
    idle_exit: float | None = None,
    pipeline: UserPipeline | None = None,
    poll_seconds: float = 1.0,
    stop: threading.Event | None = None,
) -> PullSummary:
    """Run sessions as their messages arrive, one at a time, until `max_sessions` have run,
    nothing arrived for `idle_exit` seconds, or `stop` is set."""
    summary = PullSummary()
    start = idle_since = time.monotonic()
    stop = stop or threading.Event()
    while not stop.is_set():
        if max_sessions is not None and summary.ran >= max_sessions:
            break
        if idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
            log.info("worker.idle_exit seconds=%s", idle_exit)
            break
        messages = bus.consume(TOPIC, group, max_messages=1, timeout=poll_seconds)
        if not messages:
            continue
        for message in messages:
            ok = _handle(settings, store, worker_id, message, pipeline, summary)
            (bus.ack if ok else bus.nack)(TOPIC, group, [message])
            if ok:
                summary.acked += 1
            else:
                summary.nacked += 1
        idle_since = time.monotonic()  # idle means no message since the last one was handled
    summary.seconds = time.monotonic() - start
    return summary


def _handle(
    settings: Settings,
    store: StateStore,
    worker_id: str,
    message: Any,
    pipeline: UserPipeline | None,
    summary: PullSummary,
) -> bool:
    """True when the message can be acknowledged."""
    try:
        session_id = parse(message.data)
    except BadMessageError as exc:
        log.warning("worker.bad_message message_id=%s reason=%s", message.id, exc)
        return False
    try:
        run = run_session(settings, store, session_id, worker_id, pipeline=pipeline)
    except Exception as exc:  # the store failed: nothing durable; the bus redelivers
        reason = str(exc) if isinstance(exc, TracklineError) else type(exc).__name__
        log.error("worker.session_failed session_id=%s error=%s", session_id, reason)
        time.sleep(min(poll_seconds_backoff(summary), 5.0))
        return False
    summary.results[run.result] = summary.results.get(run.result, 0) + 1
    if run.ran:
        summary.ran += 1
    return run.result != "unknown"


def poll_seconds_backoff(summary: PullSummary) -> float:
    return 0.5 * (1 + summary.nacked)
