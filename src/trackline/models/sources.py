"""Make every table the models read exist, even before anything was ingested.

dbt sources must resolve; a fresh warehouse may hold only some datasets. Creating the missing
tables empty, with the same columns the engine would create (fields, derived columns with the
kernel's own types, `ingestion_time`, `run_id`), lets every model build and every test pass on
whatever has been ingested so far.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from trackline.contracts.kernel import Kernel
from trackline.contracts.loader import ContractRegistry
from trackline.contracts.spec import Contract
from trackline.core import duck
from trackline.warehouse.duckdb import GROUPS_DDL, DuckDBWarehouse

#: The bronze tables the dbt project declares as sources (its models/bronze_sources.yml).
SOURCE_DATASETS = (
    "carts", "feedback", "inventory", "listening_events", "listens", "orders",
    "playlist_tracks", "products", "top_artists", "top_tracks", "user_activity", "users",
)  # fmt: skip


def derived_types(contract: Contract) -> dict[str, str]:
    """The DuckDB type of each derived column, as the kernel computes it on an empty batch."""
    if not contract.derived:
        return {}
    empty = pa.table({f: pa.array([], pa.string()) for f in contract.fields})
    program = Kernel(contract).compile(empty.schema)
    con = duck.connect()
    try:
        con.register("input", empty)
        rows = con.execute(
            f"DESCRIBE {program.sql}".replace("$now", "CAST($now AS TIMESTAMPTZ)"),
            {"now": datetime.now(UTC)},
        ).fetchall()
    finally:
        con.close()
    return {str(r[0]): str(r[1]) for r in rows if r[0] in contract.derived}


def ensure_sources(wh: DuckDBWarehouse, contracts: ContractRegistry) -> list[str]:
    """Create missing source tables (and meta.groups); returns the names it created."""
    created = []
    for name in SOURCE_DATASETS:
        if not wh.table_exists(name):
            contract = contracts.get(name)
            wh.ensure_table(contract, derived_types(contract))
            created.append(name)
    wh.con.execute(GROUPS_DDL)
    return created
