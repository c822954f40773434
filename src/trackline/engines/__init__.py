"""Engines run contracts over inputs, composing the stages in `engines.stages` and the sinks
in `engines.sinks`: `local` (DuckDB, one machine); Beam comes later.

`open_engine(name, settings)` picks one by name; each is imported only when asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from trackline.errors import UsageError

if TYPE_CHECKING:
    from trackline.config import Settings
    from trackline.engines.local import LocalEngine, RunResult

__all__ = ["ENGINES", "LocalEngine", "RunResult", "open_engine"]

# name -> "module:class"
ENGINES: dict[str, str] = {"local": "trackline.engines.local:LocalEngine"}


def open_engine(name: str, settings: Settings, **options: Any) -> LocalEngine:
    """The engine registered as `name`, made for these settings."""
    target = ENGINES.get(name)
    if target is None:
        raise UsageError(f"unknown engine {name!r}; known: {', '.join(sorted(ENGINES))}")
    module, _, cls = target.partition(":")
    engine: LocalEngine = getattr(importlib.import_module(module), cls)(settings, **options)
    return engine


def __getattr__(name: str) -> Any:
    if name in ("LocalEngine", "RunResult"):  # imported on first use: duckdb and pyarrow
        from trackline.engines import local

        return getattr(local, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
