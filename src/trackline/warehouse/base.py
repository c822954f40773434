"""The warehouse protocol and its registry, keyed by name (`duckdb`).

Checking happens in the kernel's own DuckDB; a warehouse only has to create tables from a
contract, append a run's new rows (dedup on the primary key against what it holds), keep the
metadata tables and answer read-only queries. Adding a backend means adding one module and one
registry entry.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from trackline.config import Settings
from trackline.errors import ConfigError


class Warehouse(Protocol):
    name: str

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table: ...

    def close(self) -> None: ...


Factory = Callable[[Settings, bool], Warehouse]


def _duckdb(settings: Settings, read_only: bool) -> Warehouse:
    from trackline.warehouse.duckdb import DuckDBWarehouse

    return DuckDBWarehouse(Path(settings.warehouse), settings, read_only=read_only)


REGISTRY: dict[str, Factory] = {"duckdb": _duckdb}


def open_warehouse(
    settings: Settings, *, read_only: bool = False, kind: str = "duckdb"
) -> Warehouse:
    try:
        factory = REGISTRY[kind]
    except KeyError:
        raise ConfigError(
            f"unknown warehouse {kind!r}; known: {', '.join(sorted(REGISTRY))}"
        ) from None
    return factory(settings, read_only)
