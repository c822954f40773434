"""The warehouse protocol and its registry, keyed by name (`duckdb`, `bigquery`).

Checking happens in the kernel's own DuckDB; a warehouse only has to create tables from a
contract, append a run's new rows (dedup on the primary key against what it holds), keep the
metadata tables and answer read-only queries. Adding a backend means adding one module and one
registry entry. `warehouse_uri` picks one: `duckdb:///PATH` (the default) or
`bigquery://PROJECT/DATASET` (docs/warehouse.md).

Readers write one SQL for both (DuckDB's dialect, `$name` parameters, `meta.runs`,
`meta.rejected`, `meta.reports`, contract tables by name); the BigQuery warehouse translates it.
A batch run or a stream writes through `engines.sinks.warehouse.open_run_warehouse`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from trackline.config import Settings
from trackline.errors import ConfigError


class Warehouse(Protocol):
    name: str  # the registry's name: "duckdb" or "bigquery"

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        """Trackline's SQL (DuckDB dialect, `$name` parameters) as an Arrow table."""
        ...

    def read_only_query(self, sql: str) -> pa.Table:
        """A user's SQL, refused (exit 2) unless it only reads (the warehouse must have been
        opened read-only)."""
        ...

    def close(self) -> None: ...


Factory = Callable[[Settings, bool], Warehouse]


def _duckdb(settings: Settings, read_only: bool) -> Warehouse:
    from trackline.warehouse.duckdb import DuckDBWarehouse

    return DuckDBWarehouse(Path(settings.warehouse), settings, read_only=read_only)


def _bigquery(settings: Settings, read_only: bool) -> Warehouse:
    from trackline.warehouse.bigquery import BigQueryWarehouse

    return BigQueryWarehouse(settings, read_only=read_only)


REGISTRY: dict[str, Factory] = {"duckdb": _duckdb, "bigquery": _bigquery}


def open_warehouse(
    settings: Settings, *, read_only: bool = False, kind: str | None = None
) -> Warehouse:
    """The warehouse `kind` names (default: the one `warehouse_uri` says)."""
    kind = kind or settings.warehouse_kind
    try:
        factory = REGISTRY[kind]
    except KeyError:
        raise ConfigError(
            f"unknown warehouse {kind!r}; known: {', '.join(sorted(REGISTRY))}"
        ) from None
    return factory(settings, read_only)
