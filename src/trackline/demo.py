"""The demo: every built-in dataset through the whole batch flow, on embedded defaults.

Generates realistic data (with invalid records of every kind) in several file formats, ingests
each, then ingests one file again to show that nothing is added twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from trackline.config import Settings
from trackline.contracts.loader import ContractRegistry
from trackline.engines.local import LocalEngine, RunResult
from trackline.progress import NullReporter, Reporter
from trackline.session_demo import run_session_demo
from trackline.sources import generator
from trackline.sources.api_demo import run_api_demo
from trackline.sources.fetch import UserFetchResult
from trackline.worker import SessionRun

#: The file format each dataset is demonstrated with, to exercise every reader.
FORMATS = {
    "listening_events": "ndjson.gz",
    "playlist_tracks": "csv",
    "orders": "json",
    "inventory": "parquet",
    "user_activity": "csv.gz",
}


@dataclass
class DemoResult:
    runs: list[RunResult]
    rerun: RunResult
    inputs_dir: str
    api: list[UserFetchResult] = field(default_factory=list)  # fetches from the fake APIs
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
    return DemoResult(runs=runs, rerun=rerun, inputs_dir=str(inputs), api=api, session=session)
