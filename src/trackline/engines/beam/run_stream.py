"""`trackline stream --engine beam`: the streaming pipeline (`streaming.py`) on a Beam runner.

It reads `--subscription projects/P/subscriptions/S`, or makes its own subscription on
`--topic` (a full `projects/P/topics/T`, or a short name in `--project`). Against the Pub/Sub
emulator, `PUBSUB_EMULATOR_HOST` points Google's client at it with anonymous credentials (the
DirectRunner's reader makes its client from the environment); nothing asks for a login.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from trackline.config import Settings
from trackline.contracts.loader import ContractRegistry
from trackline.engines.beam.options import RunnerOptions
from trackline.errors import UsageError
from trackline.stream.events import EVENT_TYPES

log = logging.getLogger("trackline.stream")


def pubsub_path(name: str, kind: str, project: str | None) -> str:
    """`projects/P/<kind>/N` from a full path or a short name and `--project`."""
    if name.startswith("projects/"):
        parts = name.split("/")
        if len(parts) != 4 or parts[2] != kind or not parts[1] or not parts[3]:
            raise UsageError(f"{name!r} is not projects/PROJECT/{kind}/NAME")
        return name
    if not project:
        raise UsageError(f"--project is needed for the short {kind[:-1]} name {name!r}")
    return f"projects/{project}/{kind}/{name}"


def stream_job(
    settings: Settings,
    options: RunnerOptions,
    *,
    topic: str | None,
    subscription: str | None,
    id_label: str | None,
    create_tables: bool = True,
) -> Any:
    """The job `streaming.build` runs; with a BigQuery warehouse, its tables are created first
    (not with `create_tables=False`: a graph built and not run changes nothing)."""
    from trackline.engines.beam.streaming import StreamJob

    if id_label and options.direct:
        raise UsageError("--id-label: the DirectRunner does not support it (Dataflow does)")
    registry = ContractRegistry(settings.contracts_dir)
    contracts = {t: registry.get(t) for t in EVENT_TYPES}
    bigquery = None
    if settings.warehouse_kind == "bigquery":  # the tables exist before a window is written
        from trackline.engines.beam.stream_warehouse import prepare
        from trackline.warehouse.bigquery_write import WriteTarget

        if create_tables:
            bigquery = prepare(settings, contracts)
        else:
            bigquery = WriteTarget.from_settings(settings)
    return StreamJob(
        contracts=contracts,
        lake_uri=settings.lake,
        topic=None if subscription else pubsub_path(topic or "events", "topics", options.project),
        subscription=(
            pubsub_path(subscription, "subscriptions", options.project) if subscription else None
        ),
        id_label=id_label,
        tolerance=settings.future_tolerance_seconds,
        bigquery=bigquery,
        run_id=f"stream-beam-{uuid.uuid4().hex[:8]}",
    )


def run_stream(
    settings: Settings,
    options: RunnerOptions,
    *,
    topic: str | None = None,
    subscription: str | None = None,
    id_label: str | None = None,
    seconds: float | None = None,
    window_seconds: int | None = None,
    wait: bool = True,
    stop_when: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Run the streaming pipeline until it is stopped (Ctrl-C), or for `seconds`, then cancel
    it; what ran and how it ended. `wait=False` returns once the job is submitted (a runner
    such as Dataflow runs it on); `stop_when`, asked twice a second, stops it early."""
    import apache_beam as beam

    from trackline.engines.beam import streaming

    job = stream_job(settings, options, topic=topic, subscription=subscription, id_label=id_label)
    if window_seconds is not None:
        job = dataclasses.replace(job, window_seconds=window_seconds)
    settings.ensure_home()
    p = beam.Pipeline(options=options.pipeline_options(streaming=True))
    streaming.build(streaming.read(p, job), job)
    log.info(
        "stream.start engine=beam runner=%s source=%s emulator=%s",
        options.runner,
        job.subscription or job.topic,
        bool(os.environ.get("PUBSUB_EMULATOR_HOST")),
    )
    result: Any = p.run()
    summary = {
        "engine": "beam",
        "runner": options.runner,
        "source": job.subscription or job.topic,
        "lake": settings.lake,
        **({"warehouse": job.bigquery.uri, "run_id": job.run_id} if job.bigquery else {}),
    }
    if not wait:
        return {**summary, "state": str(result.state)}
    # The DirectRunner takes no duration, and its wait does not always end when the pipeline
    # is cancelled: the wait runs on a thread of its own, this one decides when to stop.
    failure: list[BaseException] = []

    def wait_for_it() -> None:
        try:
            result.wait_until_finish()
        except BaseException as exc:  # a cancelled pipeline's wait may raise; the rest counts
            failure.append(exc)

    waiter = threading.Thread(target=wait_for_it, name="trackline-beam-wait", daemon=True)
    waiter.start()
    until = None if seconds is None else time.monotonic() + seconds
    try:
        while waiter.is_alive() and (until is None or time.monotonic() < until):
            waiter.join(0.5 if until is None else max(0.0, min(0.5, until - time.monotonic())))
            if stop_when is not None and stop_when():
                break
    except KeyboardInterrupt:
        log.info("stream.stopping engine=beam")
    finally:
        ended = not waiter.is_alive()
        _cancel(result)
        waiter.join(10)
    if ended and failure:  # it ended by itself, failing: say so
        raise failure[0]
    return {**summary, "state": str(result.state)}


def _cancel(result: Any) -> None:
    """Stop a pipeline still running (one that ended meanwhile is left as it is)."""
    from apache_beam.runners.runner import PipelineState

    terminal: Any = PipelineState.is_terminal
    if terminal(result.state):
        return
    try:
        result.cancel()
    except Exception:  # the runner may have ended between the two calls
        log.debug("stream.cancel_failed", exc_info=True)
