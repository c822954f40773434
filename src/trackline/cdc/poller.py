"""The CDC poll loop: replay dead letters, fetch, diff, publish, then advance the snapshot.

Guarantees (design.md 3.3): every change is published or written to the dead-letter file before
the snapshot moves past it, so nothing is lost; a crash between publishing and saving the
snapshot re-emits the same changes with the same ids (at-least-once, duplicates recognisable).
Per cart, order holds: while a cart has an event in the dead-letter file, its newer events join
it there instead of overtaking it on the bus.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from trackline.bus.base import Outgoing
from trackline.cdc import events
from trackline.cdc.deadletter import DeadLetters, Letter
from trackline.cdc.events import Source
from trackline.cdc.snapshot import Change, diff, observe
from trackline.cdc.store import SnapshotStore
from trackline.errors import ConnectorError
from trackline.state import StateStore

log = logging.getLogger(__name__)

DEFAULT_TOPIC = "cdc.carts"
PUBLISH_CHUNK = 500


class Publisher(Protocol):
    """What CDC needs from a bus (trackline.bus.Bus satisfies it)."""

    def publish(
        self,
        topic: str,
        data: bytes,
        attributes: dict[str, str] | None = None,
        ordering_key: str | None = None,
    ) -> object: ...


Fetch = Callable[[], Sequence[Any]]
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def dead_letter_path(home: Path, source: Source) -> Path:
    return home / "cdc" / f"{source.key}.deadletter.ndjson"


@dataclass
class PollResult:
    cold_start: bool = False
    received: int = 0
    carts: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    ops: Counter[str] = field(default_factory=Counter)
    published: int = 0
    dead_lettered: int = 0
    replayed: int = 0
    dead_letters_left: int = 0
    first_sequence: int | None = None
    last_sequence: int | None = None
    seconds: float = 0.0

    @property
    def events(self) -> int:
        return sum(self.ops.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "cold_start": self.cold_start,
            "received": self.received,
            "carts": self.carts,
            "rejected": len(self.rejected),
            "rejected_reasons": dict(Counter(r["reason"] for r in self.rejected)),
            "duplicates": self.duplicates,
            "events": self.events,
            "ops": {op: self.ops.get(op, 0) for op in ("r", "c", "u", "d")},
            "published": self.published,
            "dead_lettered": self.dead_lettered,
            "replayed": self.replayed,
            "dead_letters_left": self.dead_letters_left,
            "first_sequence": self.first_sequence,
            "last_sequence": self.last_sequence,
            "seconds": round(self.seconds, 3),
        }


class CartsCDC:
    """Turns successive listings of carts into change events on a topic."""

    def __init__(
        self,
        *,
        state: StateStore,
        publisher: Publisher,
        fetch: Fetch,
        dead_letters: DeadLetters,
        source: Source | None = None,
        topic: str = DEFAULT_TOPIC,
        clock: Clock = _now,
    ) -> None:
        self.source = source or Source()
        self.store = SnapshotStore(state, self.source.key)
        self.publisher = publisher
        self.fetch = fetch
        self.dead_letters = dead_letters
        self.topic = topic
        self.clock = clock

    def poll(self) -> PollResult:
        start = time.perf_counter()
        result = PollResult()
        left = self._replay(result)
        blocked = {letter.ordering_key for letter in left}

        seen = observe(self.fetch())
        result.received, result.carts = seen.received, len(seen.carts)
        result.rejected, result.duplicates = seen.rejected, seen.duplicates
        for r in seen.rejected:
            log.warning(
                "cdc.rejected source=%s index=%s reason=%s",
                self.source.key,
                r["index"],
                r["reason"],
            )
        previous = self.store.load()
        result.cold_start = previous is None
        changes = diff(previous, seen.carts)
        now = self.clock()
        first = self.store.reserve(len(changes))
        new_dead = self._publish(changes, first, now, blocked, result)
        if new_dead:
            self.dead_letters.append(new_dead)  # durable before the snapshot moves on
        self.store.save(
            seen.carts,
            None if previous is None else [c.key for c in changes],
            polled_at=now,
            sequence=first + len(changes) - 1,
        )
        result.dead_letters_left = len(left) + len(new_dead)
        result.seconds = time.perf_counter() - start
        log.info(
            "cdc.poll source=%s carts=%d events=%d published=%d dead_lettered=%d replayed=%d "
            "seconds=%.3f",
            self.source.key, result.carts, result.events, result.published,
            result.dead_lettered, result.replayed, result.seconds,
        )  # fmt: skip
        return result

    def _publish(
        self,
        changes: list[Change],
        first: int,
        now: datetime,
        blocked: set[str],
        result: PollResult,
    ) -> list[Letter]:
        """Publish in chunks (one bus call per chunk when the bus has `publish_batch`); what
        fails, and what must wait behind an earlier dead letter of its key, is returned."""
        dead: list[Letter] = []
        failed_at = events.iso_z(now)
        for lo in range(0, len(changes), PUBLISH_CHUNK):
            sendable: list[tuple[str, dict[str, str], dict[str, Any]]] = []
            for i, change in enumerate(changes[lo : lo + PUBLISH_CHUNK], start=first + lo):
                event = events.build(self.source, change, i, now)
                result.ops[change.op] += 1
                key, attrs = str(event["partitionkey"]), events.attributes(event)
                if key in blocked:
                    error = "held back: an earlier event of this key is in the dead-letter file"
                    dead.append(Letter(self.topic, key, attrs, event, error, failed_at))
                else:
                    sendable.append((key, attrs, event))
            if self._publish_batch(sendable):
                result.published += len(sendable)
                continue
            for key, attrs, event in sendable:
                try:
                    self.publisher.publish(self.topic, events.encode(event), attrs, key)
                except Exception as exc:  # any backend failure: keep the event, never drop it
                    error = f"{type(exc).__name__}: {exc}"
                    log.warning("cdc.publish_failed key=%s error=%s", key, error)
                    dead.append(Letter(self.topic, key, attrs, event, error, failed_at))
                else:
                    result.published += 1
        result.dead_lettered = len(dead)
        if changes:
            result.first_sequence, result.last_sequence = first, first + len(changes) - 1
        return dead

    def _publish_batch(self, sendable: list[tuple[str, dict[str, str], dict[str, Any]]]) -> bool:
        """One call for the chunk if the bus can; False means: publish one by one (a failed
        batch may have stored part of it, so some events can reach the bus twice, same ids)."""
        batch = getattr(self.publisher, "publish_batch", None)
        if batch is None or len(sendable) < 2:
            return False
        try:
            batch(self.topic, [Outgoing(events.encode(e), a, k) for k, a, e in sendable])
        except Exception as exc:  # fall back to single publishes, which find the bad ones
            log.warning("cdc.batch_failed events=%d error=%s: %s", len(sendable),
                        type(exc).__name__, exc)  # fmt: skip
            return False
        return True

    def _replay(self, result: PollResult) -> list[Letter]:
        """Publish dead letters in file order; a key that fails keeps its later letters."""
        letters = self.dead_letters.read()
        if not letters:
            return []
        left: list[Letter] = []
        failed: set[str] = set()
        for letter in letters:
            if letter.ordering_key not in failed:
                try:
                    self.publisher.publish(
                        letter.topic,
                        events.encode(letter.event),
                        letter.attributes,
                        letter.ordering_key,
                    )
                except Exception as exc:  # still failing: it stays, with the new reason
                    letter.error = f"{type(exc).__name__}: {exc}"
                else:
                    result.replayed += 1
                    continue
            failed.add(letter.ordering_key)
            letter.attempts += 1
            left.append(letter)
        self.dead_letters.replace(left)
        log.info("cdc.replay replayed=%d left=%d", result.replayed, len(left))
        return left

    def run(
        self,
        *,
        interval: float,
        once: bool,
        stop: threading.Event,
        on_result: Callable[[PollResult], None],
    ) -> int:
        """Poll until `stop` is set (or once). A poll in progress always finishes. A fetch that
        fails after the HTTP client's retries is logged and tried again next interval."""
        polls = 0
        while not stop.is_set():
            try:
                result = self.poll()
            except ConnectorError as exc:
                if once:
                    raise
                log.warning("cdc.fetch_failed source=%s error=%s", self.source.key, exc)
            else:
                polls += 1
                on_result(result)
            if once or stop.wait(interval):
                break
        return polls


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set `stop` so the current poll finishes; a second one interrupts now."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        log.info("cdc.stopping signal=%s", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
