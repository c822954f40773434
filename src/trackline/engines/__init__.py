"""Engines run contracts over inputs, composing the stages in `engines.stages` and the sinks
in `engines.sinks`: `local` (DuckDB, one machine) and `beam` (Apache Beam: the DirectRunner
here, Dataflow, Flink or Spark; `trackline[beam]`).

`open_engine(name, settings)` picks one by name; each is imported only when asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from trackline.errors import UsageError

if TYPE_CHECKING:
    from trackline.config import Settings
    from trackline.engines.local import LocalEngine, RunResult

__all__ = ["ENGINES", "Engine", "LocalEngine", "RunResult", "open_engine"]

# name -> "module:class"
ENGINES: dict[str, str] = {
    "local": "trackline.engines.local:LocalEngine",
    "beam": "trackline.engines.beam.engine:BeamEngine",
}


class Engine(Protocol):
    """What an engine does: one batch ingest of inputs against a dataset's contract."""

    def ingest(
        self,
        paths: Sequence[str],
        dataset: str,
        *,
        force: bool = False,
        now: datetime | None = None,
    ) -> RunResult: ...


def open_engine(name: str, settings: Settings, **options: Any) -> Engine:
    """The engine registered as `name`, made for these settings."""
    target = ENGINES.get(name)
    if target is None:
        raise UsageError(f"unknown engine {name!r}; known: {', '.join(sorted(ENGINES))}")
    module, _, cls = target.partition(":")
    engine: Engine = getattr(importlib.import_module(module), cls)(settings, **options)
    return engine


def __getattr__(name: str) -> Any:
    if name in ("LocalEngine", "RunResult"):  # imported on first use: duckdb and pyarrow
        from trackline.engines import local

        return getattr(local, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
