"""The Beam stream's BigQuery side: the tables made before it starts, the rows each window adds.

Driver side, `prepare` creates each contract's table as `trackline stream` does (the run
warehouse's `ensure_table`: columns, partitioning and clustering from the contract, the derived
columns' types as the kernel computes them, a newer contract version's columns added) and
gives the picklable `WriteTarget` the DoFns append through. Worker side, `table_rows` gives a
window's valid rows the columns the local stream adds: `ingestion_time` (when the window was
checked) and the stream's `run_id`; the lineage columns stay empty, as the local stream leaves
them (a message has no source file and line).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import pyarrow as pa

from trackline.config import Settings
from trackline.contracts.kernel import Kernel
from trackline.contracts.spec import Contract
from trackline.errors import ConfigError
from trackline.stream.shapes import kernel_input
from trackline.warehouse.bigquery_write import WriteTarget


def derived_types(contract: Contract) -> dict[str, str]:
    """The DuckDB types of the contract's columns as the kernel outputs them (the local
    stream makes its table from the first batch's; an empty batch has the same schema)."""
    import duckdb

    kernel = Kernel(contract, threads=1)
    try:
        valid = kernel.run(kernel_input([], [])).valid
    finally:
        kernel.close()
    con = duckdb.connect()
    try:
        con.register("valid_rows", valid)
        described = con.execute("DESCRIBE SELECT * FROM valid_rows").fetchall()
    finally:
        con.close()
    return {str(r[0]): str(r[1]) for r in described}


def prepare(settings: Settings, contracts: Mapping[str, Contract]) -> WriteTarget:
    """Create (or bring up to date) every contract's table in the BigQuery warehouse; where
    the stream's DoFns append."""
    from trackline.engines.sinks.warehouse import open_run_warehouse

    if settings.bigquery_endpoint and not settings.bigquery_storage_endpoint:
        raise ConfigError(
            "bigquery_endpoint points at an emulator but bigquery_storage_endpoint is unset: "
            "the Beam stream appends through the Storage Write API (gRPC); set "
            "TRACKLINE_BIGQUERY_STORAGE_ENDPOINT to the emulator's host:port"
        )
    wh = open_run_warehouse(settings)
    try:
        for contract in {c.name: c for c in contracts.values()}.values():
            wh.ensure_table(contract, derived_types(contract))
    finally:
        wh.close()
    return WriteTarget.from_settings(settings)


def table_rows(contract: Contract, valid: pa.Table, now: datetime, run_id: str) -> pa.Table:
    """A window's valid rows as the table's: the contract's columns, `ingestion_time`,
    `run_id` (lineage left out: the table's columns not sent are empty)."""
    rows = valid.select(contract.output_columns)
    n = rows.num_rows
    rows = rows.append_column("ingestion_time", pa.array([now] * n, pa.timestamp("us", "UTC")))
    return rows.append_column("run_id", pa.array([run_id] * n, pa.string()))
