"""The demo: every built-in dataset through the whole batch flow, on embedded defaults.

Generates realistic data (with invalid records of every kind) in several file formats, ingests
each, then ingests one file again to show that nothing is added twice. Then the other paths on
the same embedded defaults: the fake APIs fetched per user, mixed events published on the
embedded bus and streamed into the warehouse, and the dbt models built and tested.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from trackline.config import Settings
from trackline.contracts.loader import ContractRegistry
from trackline.core.progress import NullReporter, Reporter
from trackline.demo.apis import run_api_demo
from trackline.engines.local import LocalEngine, RunResult
from trackline.generate import generator
from trackline.pipelines.fetch import UserFetchResult
from trackline.sessions.demo import run_session_demo
from trackline.sessions.runner import SessionRun

#: The file format each dataset is demonstrated with, to exercise every reader.
FORMATS = {
    "listening_events": "ndjson.gz",
    "playlist_tracks": "csv",
    "orders": "json",
    "inventory": "parquet",
    "user_activity": "csv.gz",
}


log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    runs: list[RunResult]
    rerun: RunResult
    inputs_dir: str
    api: list[UserFetchResult] = field(default_factory=list)  # fetches from the fake APIs
    stream: dict[str, Any] = field(default_factory=dict)  # publish -> stream summary
    models: dict[str, Any] = field(default_factory=dict)  # dbt build summary (or why skipped)
    listeners: list[str] = field(default_factory=list)  # the most active, for examples
    session: SessionRun | None = None  # a session of the fake APIs' users, run by the worker


def run_demo(
    settings: Settings,
    *,
    count: int = 5000,
    invalid_share: float = 0.05,
    seed: int = 7,
    reporter: Reporter | None = None,
) -> DemoResult:
    contracts = ContractRegistry(settings.contracts_dir)
    engine = LocalEngine(settings, contracts=contracts, reporter=reporter or NullReporter())
    inputs = settings.home / "demo-inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    runs: list[RunResult] = []
    files: dict[str, str] = {}
    for i, name in enumerate(contracts.names()):
        if not contracts.get(name).origin.startswith("builtin:"):
            continue
        path = inputs / f"{name}.{FORMATS.get(name, 'ndjson')}"
        generator.write(
            name,
            count,
            path,
            invalid_share=invalid_share,
            seed=seed + i,
            now=now,
            contracts=contracts,
        )
        files[name] = str(path)
        runs.append(engine.ingest([str(path)], name))
    rerun = engine.ingest([files["listening_events"]], "listening_events", force=True)
    api = run_api_demo(settings)
    session = run_session_demo(settings)
    stream = stream_demo(settings, count=count, invalid_share=invalid_share, seed=seed)
    models = models_demo(settings)
    return DemoResult(
        runs=runs,
        rerun=rerun,
        inputs_dir=str(inputs),
        api=api,
        stream=stream,
        models=models,
        listeners=top_listeners(settings),
        session=session,
    )


def top_listeners(settings: Settings, n: int = 3) -> list[str]:
    from trackline.warehouse.base import open_warehouse

    wh = open_warehouse(settings, read_only=True)  # DuckDB's file, or BigQuery's dataset
    try:
        rows = wh.query(
            "SELECT user_id FROM listening_events GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT $n",
            {"n": n},
        )
    finally:
        wh.close()
    return [str(u) for u in rows.column("user_id").to_pylist()]


def stream_demo(
    settings: Settings, *, count: int, invalid_share: float, seed: int
) -> dict[str, Any]:
    """Publish mixed events on the configured bus and stream them into the warehouse."""
    from trackline.bus.base import open_bus
    from trackline.stream.consumer import StreamProcessor
    from trackline.stream.events import EVENT_TYPES
    from trackline.stream.publisher import publish_events

    contracts = ContractRegistry(settings.contracts_dir)
    bus = open_bus(None, settings)
    try:
        published = publish_events(
            bus,
            "events",
            count,
            list(EVENT_TYPES),
            contracts,
            invalid_share=invalid_share,
            seed=seed,
        )
        proc = StreamProcessor(settings, bus, topic="events", contracts=contracts)
        proc.run(max_events=published.published, idle_exit=2.0)
        return {"published": published.published, **proc.summary()}
    finally:
        bus.close()


def models_demo(settings: Settings) -> dict[str, Any]:
    """Build and test the dbt models when the `dbt` extra is installed."""
    from trackline.errors import ExtraNotInstalledError
    from trackline.models.runner import build

    try:
        run = build(settings)
    except ExtraNotInstalledError as exc:
        log.info("demo.models_skipped reason=%s", exc)
        return {"unavailable": str(exc)}
    return run.summary()
