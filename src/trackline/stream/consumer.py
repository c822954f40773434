"""The stream processor: consume micro-batches, land them raw, validate, commit, then ack.

One batch, in this order (design.md 3.3):
1. consume until `stream_batch_size` messages or `stream_batch_seconds` since the first;
2. group by the `event_type` attribute; run each group, as one Arrow batch of raw JSON texts,
   through its contract's kernel (unknown types are rejected with reason `unknown_event_type`);
3. write every message to `raw/<event>/...` and every rejected one to `raw/errors/<event>/...`;
4. commit the valid rows (dedup on the key against the table) and rejected rows in one
   warehouse transaction;
5. ack. A crash anywhere before 5 redelivers the batch; step 4 makes that harmless.

Accounting per batch: events = valid + rejected + duplicates, where duplicates are repeats of a
key inside the batch or already in the warehouse (redeliveries included).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from trackline.bus.base import Bus, Message, redact
from trackline.config import Settings
from trackline.contracts.kernel import Kernel, KernelResult
from trackline.contracts.loader import ContractRegistry
from trackline.contracts.spec import Contract
from trackline.lake import Lake
from trackline.stream.events import EVENT_TYPES
from trackline.stream.record import StreamRecord
from trackline.stream.shapes import UNKNOWN_TYPE, for_meta, kernel_input, unknown_rejected
from trackline.stream.sink import WarehouseSink
from trackline.stream.stats import StreamStats, Totals, tally
from trackline.stream.writer import UNKNOWN, LakeWriter

log = logging.getLogger(__name__)
GROUP = "trackline-stream"
PROGRESS_SECONDS = 5.0
MAX_LATENCIES = 5_000_000
GC_THRESHOLD = 100_000
LAG_EVERY_SECONDS = 1.0


class StreamProcessor:
    """Consumes one topic under one group into the lake and the warehouse."""

    def __init__(
        self,
        settings: Settings,
        bus: Bus,
        *,
        topic: str = "events",
        group: str = GROUP,
        contracts: ContractRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.topic = topic
        self.group = group
        contracts = contracts or ContractRegistry(settings.contracts_dir)
        self.contracts: dict[str, Contract] = {t: contracts.get(t) for t in EVENT_TYPES}
        self.kernels = {
            t: Kernel(c, future_tolerance_seconds=settings.future_tolerance_seconds, threads=1)
            for t, c in self.contracts.items()
        }
        self.instance = uuid.uuid4().hex[:8]
        # pyarrow imports pandas (when installed) on its first conversion of a Python value:
        # paid while starting, not in the first batch's latency.
        pa.scalar(0)
        settings.ensure_home()
        lake = Lake(settings.lake)
        self.writer = LakeWriter(lake, self.instance)
        self.sink = WarehouseSink(settings, f"stream-{self.instance}")
        self.record = StreamRecord(settings, lake, self.sink.run_id, topic, self.contracts)
        self.stats = StreamStats()
        self._lag_at = -LAG_EVERY_SECONDS
        self._last_lag: int | None = None
        self.stop = threading.Event()
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="trackline-kernel")
        self._prefetch = (
            ThreadPoolExecutor(1, thread_name_prefix="trackline-fill")
            if getattr(bus, "thread_safe", False)
            else None
        )

    # Loop --------------------------------------------------------------------------------
    def run(self, *, max_events: int | None = None, idle_exit: float | None = None) -> StreamStats:
        """Process until stopped, `max_events` processed, or idle for `idle_exit` seconds."""
        announced = False
        idle_since = time.monotonic()
        last_progress = time.monotonic()
        # A batch allocates a few objects per message, all alive until it is acked. With the
        # default threshold (700) the collector runs every few hundred messages and keeps
        # promoting the batch in flight, so full collections rescan the whole heap often.
        # Start-up objects (modules, contracts) go to the permanent generation.
        threshold = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(max(threshold[0], GC_THRESHOLD), *threshold[1:])
        # While a batch is processed, the next one is taken from the bus (when the bus allows
        # calls from two threads): the bus round trips overlap the kernels and the commit.
        ahead: Future[list[Message]] | None = None
        error: Exception | None = None
        try:
            while not self.stop.is_set():
                limit = self._room(max_events, 0)
                if limit <= 0:
                    break
                if ahead is not None:
                    batch, ahead = ahead.result(), None
                else:
                    batch = self._fill(limit)
                    if not announced:  # only once the bus answered: a dead one is one line
                        self._announce()
                        announced = True
                if not batch:
                    self.sink.release()  # idle: let `trackline query` in
                    if idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
                        break
                    continue
                more = self._room(max_events, len(batch))
                if self._prefetch is not None and more > 0 and not self.stop.is_set():
                    ahead = self._prefetch.submit(self._fill, more)
                self.process(batch)
                idle_since = time.monotonic()
                if time.monotonic() - last_progress >= PROGRESS_SECONDS:
                    self._progress()
                    last_progress = time.monotonic()
            if ahead is not None:  # stopped: finish what was already taken, then exit
                batch, ahead = ahead.result(), None
                if batch:
                    self.process(batch)
        except Exception as exc:
            error = exc
            raise
        finally:
            gc.set_threshold(*threshold)
            gc.unfreeze()
            if ahead is not None:  # failing: its messages come back after the ack timeout
                ahead.cancel()
            if self._prefetch is not None:
                self._prefetch.shutdown(wait=True)
            self.sink.release()
            self._pool.shutdown(wait=True)
            self._end(error)
        self.stats.lag = self.bus.lag(self.topic, self.group)
        self._progress("stream.done")
        return self.stats

    def _announce(self) -> None:
        log.info(
            "stream.start topic=%s group=%s bus=%s instance=%s",
            self.topic,
            self.group,
            redact(getattr(self.bus, "uri", self.bus.scheme + "://")),
            self.instance,
        )

    def _end(self, error: Exception | None) -> None:
        """Close the run's record: done (an interrupt is a stop too) or failed. A run that
        committed nothing and did not fail leaves no record."""
        if error is None and not self.record.manifest.counts.input:
            return
        try:
            self.sink.run(lambda con: self.record.end(con, error))
        except Exception:
            if error is None:
                raise
            log.exception("stream.record_failed run_id=%s", self.record.manifest.run_id)

    def _room(self, max_events: int | None, in_flight: int) -> int:
        """How many messages the next batch may take."""
        limit = self.settings.stream_batch_size
        if max_events is not None:
            limit = min(limit, max_events - self.stats.totals.events - in_flight)
        return limit

    def _fill(self, limit: int) -> list[Message]:
        """Up to `limit` messages: wait (in short steps, to notice a stop) for the first one,
        then keep taking until the batch is full or its time window closes."""
        window = self.settings.stream_batch_seconds
        got = self.bus.consume(self.topic, self.group, limit, timeout=min(window, 0.5))
        if not got:
            return got
        closes = time.monotonic() + window
        while len(got) < limit and not self.stop.is_set():
            left = closes - time.monotonic()
            if left <= 0:
                break
            more = self.bus.consume(self.topic, self.group, limit - len(got), timeout=left)
            if not more:
                break
            got.extend(more)
        return got

    # One batch ---------------------------------------------------------------------------
    def process(self, batch: list[Message]) -> Totals:
        began = time.monotonic()
        now = datetime.now(UTC)
        stamp = int(now.timestamp() * 1000)
        events: list[str] = []
        groups: dict[str, list[int]] = defaultdict(list)
        for i, m in enumerate(batch):
            t = m.attributes.get("event_type", "")
            t = t if t in self.kernels else UNKNOWN
            events.append(t)
            groups[t].append(i)
        # Each type's kernel has its own DuckDB connection: run them side by side.
        jobs = {
            t: self._pool.submit(self._validate, t, [batch[i] for i in idx], idx, now)
            for t, idx in groups.items()
            if t != UNKNOWN
        }
        results = {t: job.result() for t, job in jobs.items()}
        unknown = groups.get(UNKNOWN, [])
        for t, idx in groups.items():
            self.writer.raw(t, [batch[i] for i in idx], stamp)
        rejected_parts = []
        for t, r in results.items():
            if r.rejected.num_rows:
                rows = r.rejected
                bad = zip(
                    rows["source_line"].to_pylist(),
                    rows["reasons"].to_pylist(),
                    rows["detail"].to_pylist(),
                    strict=True,
                )
                self.writer.errors(t, [(batch[i], rs, d) for i, rs, d in bad], stamp)
                rejected_parts.append(
                    rows.append_column("dataset", pa.array([t] * rows.num_rows, pa.string()))
                )
        if unknown:
            table = unknown_rejected([batch[i] for i in unknown], unknown)
            details = zip(unknown, table["detail"].to_pylist(), strict=True)
            self.writer.errors(UNKNOWN, [(batch[i], [UNKNOWN_TYPE], d) for i, d in details], stamp)
            rejected_parts.append(table)
        rejected = pa.concat_tables(rejected_parts) if rejected_parts else None
        valid = {t: (self.contracts[t], r.valid) for t, r in results.items()}
        tallies: dict[str, Totals] = {}

        def count_and_record(con: duckdb.DuckDBPyConnection, inserted: dict[str, int]) -> None:
            tallies.update(tally(groups, results, inserted))
            in_batch = sum(r.duplicates for r in results.values())
            reasons: Counter[str] = Counter({UNKNOWN_TYPE: len(unknown)} if unknown else {})
            for r in results.values():
                reasons.update(r.reasons)
            t = Totals()
            for one in tallies.values():
                t.add(one)
            self.record.write(
                con,
                self.record.counted(
                    t.events, t.valid, t.rejected, in_batch, t.duplicates - in_batch, reasons
                ),
            )
            at = time.time()
            waits = [at - m.publish_time for m in batch]
            self.record.metrics(con, t.as_dict(), time.monotonic() - began, lag, waits)

        lag = self._lag()  # asked before the transaction: a bus round trip holds no lock
        self.sink.write(valid, for_meta(rejected, self.topic), now, count_and_record)
        committed = time.time()
        self.bus.ack(self.topic, self.group, batch)
        totals = Totals()
        for event, counted in tallies.items():
            res = results.get(event)
            unknown_reasons = {UNKNOWN_TYPE: counted.events}
            self.stats.reasons.update(unknown_reasons if res is None else res.reasons)
            self.stats.by_type[event].add(counted)
            totals.add(counted)
        self.stats.totals.add(totals)
        self.stats.batches += 1
        self.stats.redelivered += sum(1 for m in batch if m.delivery_attempt > 1)
        self.stats.busy_seconds += time.monotonic() - began
        if len(self.stats.latencies) < MAX_LATENCIES:
            self.stats.latencies.extend(committed - m.publish_time for m in batch)
        log.debug(
            "stream.batch events=%d valid=%d rejected=%d duplicates=%d seconds=%.3f",
            totals.events,
            totals.valid,
            totals.rejected,
            totals.duplicates,
            time.monotonic() - began,
        )
        return totals

    def _lag(self) -> int | None:
        """The bus's lag for the metrics, asked at most once a second (it is a round trip)."""
        now = time.monotonic()
        if now - self._lag_at >= LAG_EVERY_SECONDS:
            self._lag_at, self._last_lag = now, self.bus.lag(self.topic, self.group)
        return self._last_lag

    def _validate(
        self, event: str, msgs: list[Message], idx: list[int], now: datetime
    ) -> KernelResult:
        return self.kernels[event].run(kernel_input(msgs, idx), now=now)

    # Reporting ---------------------------------------------------------------------------
    def _progress(self, event: str = "stream.progress") -> None:
        s = self.stats
        elapsed = max(time.monotonic() - s.started, 1e-9)
        lat = s.latency_ms()
        log.info(
            "%s events=%d valid=%d rejected=%d duplicates=%d rate=%.0f/s lag=%s "
            "p50_ms=%s p99_ms=%s",
            event,
            s.totals.events,
            s.totals.valid,
            s.totals.rejected,
            s.totals.duplicates,
            s.totals.events / elapsed,
            s.lag if s.lag is not None else self.bus.lag(self.topic, self.group),
            lat["p50"],
            lat["p99"],
        )

    def summary(self) -> dict[str, Any]:
        """The `--json` shape of `trackline stream` (add keys, never rename)."""
        s = self.stats
        elapsed = time.monotonic() - s.started
        return {
            "topic": self.topic,
            "group": self.group,
            **s.totals.as_dict(),
            "batches": s.batches,
            "redelivered": s.redelivered,
            "seconds": round(elapsed, 3),
            "events_per_second": round(s.totals.events / elapsed, 1) if elapsed else None,
            "busy_events_per_second": round(s.totals.events / s.busy_seconds, 1)
            if s.busy_seconds
            else None,
            "latency_ms": s.latency_ms(),
            "lag": s.lag,
            "by_type": {k: v.as_dict() for k, v in sorted(s.by_type.items())},
            "rejected_by_reason": dict(s.reasons.most_common()),
        }
