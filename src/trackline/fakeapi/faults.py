"""Fault injection for the fake APIs: by configuration (rates), by script, or per request.

- rates (`--fail-rate`, `--rate-limit-rate`, `--malformed-rate`, `--slow-ms`): random faults on
  any API call, seeded so a run can be repeated;
- scripts: `faults.script("/spotify/v1/me/player", ["429:2", "500"])` queues faults for the
  next calls whose path starts with the prefix (also `POST /_fake/faults`);
- per request: header `X-Fake-Fault: 429:1` or query `_fault=500`.

A fault is `429[:retry_after]`, `429quota` (Spotify QUOTA_EXCEEDED), `500`, `slow:<ms>`,
`malformed` (a truncated JSON body), `401` (as if the access token had expired), `403` (Spotify's
`Forbidden`: an endpoint or resource closed to the app), `404` (not found) or `late:<ms>`
(the call is carried out, e.g. a refresh token rotated, and only then answered after <ms>: a
client with a shorter timeout loses the answer) or `null[:<i>]` (the call is answered as usual
but entry <i>, default 0, of the page's `items` list is `null`, as Spotify sends for an entry it
cannot show; the page keeps its length, so offsets and `next` links are unchanged).
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass, field

KINDS = (
    "429", "429quota", "500", "slow", "malformed", "401", "403quota", "403", "404", "late", "null",
)  # fmt: skip


@dataclass(frozen=True)
class Fault:
    kind: str
    # Retry-After seconds for 429 (-1: no header), milliseconds for slow/late, entry for null
    value: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Fault:
        kind, _, arg = text.strip().partition(":")
        if kind not in KINDS:
            raise ValueError(f"unknown fault {text!r}; expected one of {', '.join(KINDS)}")
        if kind == "429":
            return cls(kind, float(arg) if arg else -1.0)
        return cls(kind, float(arg) if arg else 0.0)


@dataclass
class FaultRates:
    fail_rate: float = 0.0  # share of calls answered 500
    rate_limit_rate: float = 0.0  # share answered 429 with Retry-After
    retry_after: float = 0.0
    malformed_rate: float = 0.0
    slow_ms: float = 0.0  # added to every call
    seed: int = 7


@dataclass
class Faults:
    rates: FaultRates = field(default_factory=FaultRates)
    injected: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: list[tuple[str, deque[Fault]]] = []
        self._rng = random.Random(self.rates.seed)

    def script(self, prefix: str, faults: list[str]) -> None:
        """Queue faults for the next calls under `prefix` (first matching script wins)."""
        parsed = deque(Fault.parse(f) for f in faults)
        with self._lock:
            self._scripts.append((prefix, parsed))

    def clear(self) -> None:
        with self._lock:
            self._scripts.clear()

    def decide(self, path: str, requested: str | None) -> Fault | None:
        with self._lock:
            fault = self._decide(path, requested)
            if fault is not None:
                self.injected += 1
            return fault

    def _decide(self, path: str, requested: str | None) -> Fault | None:
        if requested:
            return Fault.parse(requested)
        for prefix, queue in self._scripts:
            if path.startswith(prefix) and queue:
                return queue.popleft()
        r = self.rates
        x = self._rng.random()
        if x < r.fail_rate:
            return Fault("500")
        if x < r.fail_rate + r.rate_limit_rate:
            return Fault("429", r.retry_after)
        if x < r.fail_rate + r.rate_limit_rate + r.malformed_rate:
            return Fault("malformed")
        return None
