"""The streaming pipeline (seed 002's job): Pub/Sub -> the kernel per event type -> one-minute
files of raw events and dead letters -> the valid rows per type.

```
 ReadFromPubSub (topic or subscription, attributes, id_label) ─► (event type, message)
   ─► FixedWindows(60 s) ─► GroupByKey (one group per type and minute, not a file per event)
   ─► CheckWindow: the type's kernel over batches of `batch_rows` (one DuckDB per DoFn)
        ├─► raw/<event>/YYYY/MM/DD/HH/mm/<event>-<window ms>-<shard>.ndjson  (as received)
        ├─► raw/errors/<event>/YYYY/MM/DD/HH/mm/...                         (dead letters)
        └─► valid rows: the type's BigQuery table (Storage Write API), when the warehouse is
            BigQuery; else tables/<event>/YYYY/MM/DD/HH/mm/<event>-<window ms>-<shard>.parquet
```

The raw and error files are `trackline stream`'s (`stream.writer.LakeWriter` writes both), the
minute is the message's publish time (the element's timestamp). A message whose event_type
names no contract is a dead letter under `unknown`. Repeated keys within a type's minute are
counted and dropped (the kernel's dedup); redelivery is Pub/Sub's `id_label` on Dataflow (the
DirectRunner does not support it). With a BigQuery warehouse (`StreamJob.bigquery`), a type's
valid rows of a window go to its table in one pending write stream, committed at once
(`warehouse/bigquery_write.py`; Beam's own Storage Write API sink is a Java cross-language
transform, not used); otherwise they land as Parquet per type and minute.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import apache_beam
import fsspec
import pyarrow.parquet as pq

from trackline.bus.base import Message
from trackline.contracts.kernel import Kernel
from trackline.contracts.spec import Contract
from trackline.engines.beam.stream_warehouse import table_rows
from trackline.lake import Lake
from trackline.stream.shapes import UNKNOWN_TYPE, kernel_input, unknown_rejected
from trackline.stream.writer import UNKNOWN, LakeWriter
from trackline.warehouse.bigquery_write import Appender, WriteTarget

beam: Any = apache_beam  # untyped: one Any, not an ignore per call

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class StreamJob:
    """What the streaming pipeline reads, checks and writes."""

    contracts: dict[str, Contract]  # event_type attribute -> its contract
    lake_uri: str
    topic: str | None = None  # projects/P/topics/T
    subscription: str | None = None  # projects/P/subscriptions/S
    id_label: str | None = None  # the attribute Pub/Sub dedups redeliveries by (Dataflow)
    tolerance: int = 300
    batch_rows: int = 500
    window_seconds: int = WINDOW_SECONDS  # one minute; a test may shorten it
    bigquery: WriteTarget | None = None  # valid rows to BigQuery (the tables made beforehand)
    run_id: str = ""  # the rows' run_id in BigQuery


def to_message(m: Any, timestamp: Any = None) -> Message:
    """A Beam `PubsubMessage` as the bus's `Message` (the stream writer's shape)."""
    published = getattr(m, "publish_time", None)
    if isinstance(published, datetime):
        at = published.timestamp()
    elif timestamp is not None:
        at = float(timestamp)
    else:
        at = datetime.now(UTC).timestamp()
    return Message(
        id=str(getattr(m, "message_id", None) or uuid.uuid4().hex),
        data=bytes(m.data),
        attributes=dict(m.attributes or {}),
        ordering_key=getattr(m, "ordering_key", None) or None,
        publish_time=at,
        delivery_attempt=1,
    )


class KeyByType(beam.DoFn):  # type: ignore[misc]
    def __init__(self, types: Iterable[str]) -> None:
        self.types = set(types)

    def process(self, m: Any, timestamp: Any = beam.DoFn.TimestampParam) -> Iterator[Any]:
        msg = to_message(m, timestamp)
        t = msg.attributes.get("event_type", "")
        yield (t if t in self.types else UNKNOWN), msg


class CheckWindow(beam.DoFn):  # type: ignore[misc]
    """(event type, a window's messages) -> the lake's raw and error files, and the valid
    rows to BigQuery or as Parquet; yields (kind, path) for each file written and
    ("bigquery", "<table>:<rows>") for each window's rows committed to a table."""

    def __init__(self, job: StreamJob) -> None:
        self.job = job
        self.kernels: dict[str, Kernel] = {}
        self.counters: dict[str, Any] = {}
        self.appender: Appender | None = None

    def setup(self) -> None:
        for t, c in self.job.contracts.items():
            self.kernels[t] = Kernel(c, future_tolerance_seconds=self.job.tolerance, threads=1)
        self.lake = Lake(self.job.lake_uri)
        if self.job.bigquery is not None:
            self.appender = Appender(self.job.bigquery)

    def teardown(self) -> None:
        for k in self.kernels.values():
            k.close()
        if self.appender is not None:
            self.appender.close()

    def _count(self, name: str, n: int) -> None:
        if n:
            c = self.counters.get(name)
            if c is None:
                c = self.counters[name] = beam.metrics.Metrics.counter("trackline", name)
            c.inc(n)

    def process(
        self, item: tuple[str, Iterable[Message]], window: Any = beam.DoFn.WindowParam
    ) -> Iterator[tuple[str, str]]:
        event, messages = item
        msgs = sorted(messages, key=lambda m: (m.publish_time, m.id))
        stamp = int(window.start.micros // 1000)
        writer = LakeWriter(self.lake, uuid.uuid4().hex[:12])
        self._count("events", len(msgs))
        for path in writer.raw(event, msgs, stamp):
            yield "raw", path
        if event == UNKNOWN:
            rejected = unknown_rejected(msgs, list(range(len(msgs))))
            details = rejected["detail"].to_pylist()
            dead = [(m, [UNKNOWN_TYPE], d) for m, d in zip(msgs, details, strict=True)]
            self._count(f"rejected:{UNKNOWN_TYPE}", len(msgs))
            for path in writer.errors(event, dead, stamp):
                yield "errors", path
            return
        kernel = self.kernels[event]
        now = datetime.now(UTC)
        valid, dead = [], []
        for start in range(0, len(msgs), self.job.batch_rows):
            chunk = msgs[start : start + self.job.batch_rows]
            result = kernel.run(kernel_input(chunk, list(range(len(chunk)))), now=now)
            self._count("valid", result.valid.num_rows)
            self._count("duplicates", result.duplicates)
            for reason, n in result.reasons.items():
                self._count(f"rejected:{reason}", n)
            if result.valid.num_rows:
                valid.append(result.valid)
            r = result.rejected
            for i, reasons, detail in zip(
                r["source_line"].to_pylist(),
                r["reasons"].to_pylist(),
                r["detail"].to_pylist(),
                strict=True,
            ):
                dead.append((chunk[i], reasons, detail))
        for path in writer.errors(event, dead, stamp):
            yield "errors", path
        # last: a bundle failing before the commit leaves no row, one retried after it appends
        # its rows again (at least once; docs/beam.md)
        if self.appender is not None:
            contract = self.job.contracts[event]
            rows = [table_rows(contract, t, now, self.job.run_id) for t in valid]
            added = self.appender.append(contract.name, rows)
            self._count(f"bigquery:{contract.name}", added)
            if added:
                yield "bigquery", f"{contract.name}:{added}"
            return
        for table in valid:
            yield "table", self._table(event, table, stamp, writer.shard, msgs[0].publish_time)

    def _table(self, event: str, rows: Any, stamp: int, shard: str, published: float) -> str:
        minute = datetime.fromtimestamp(published, UTC).strftime("%Y/%m/%d/%H/%M")
        path = self.lake.path("tables", event, minute, f"{event}-{stamp}-{shard}.parquet")
        self.lake.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with self.lake.fs.open(path, "wb") as fh:
            pq.write_table(rows, fh)
        return str(path)


def read(p: Any, job: StreamJob) -> Any:
    """Pub/Sub's messages with their attributes (`id_label` where the runner takes it)."""
    from apache_beam.io.gcp.pubsub import ReadFromPubSub

    return p | "Read" >> ReadFromPubSub(
        topic=job.topic,
        subscription=job.subscription,
        with_attributes=True,
        id_label=job.id_label,
    )


def build(messages: Any, job: StreamJob) -> Any:
    """The steps after the read, over a PCollection of `PubsubMessage` (a TestStream's in
    tests); the (kind, path) of every file written."""
    from apache_beam.transforms import window

    return (
        messages
        | "ByType" >> beam.ParDo(KeyByType(job.contracts))
        | "Minutes" >> beam.WindowInto(window.FixedWindows(job.window_seconds))
        | "PerTypeAndMinute" >> beam.GroupByKey()
        | "Check" >> beam.ParDo(CheckWindow(job))
    )


def listing(uri: str) -> list[str]:
    """Every file under a lake URI (for a caller checking what a pipeline wrote)."""
    fs, root = fsspec.core.url_to_fs(uri)
    return sorted(str(p) for p in fs.find(root))
