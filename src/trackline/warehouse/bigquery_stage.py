"""Staging tables: how rows reach a BigQuery table, by one load job and one MERGE.

Every write trackline makes to BigQuery goes this way (a run's rows, its metadata, the key
check, group membership): the rows as a Parquet file, one load job into a staging table of
their own (named `_stage_*`, expiring after a day should the process die), one statement
reading it, the staging table dropped. Never a row-by-row insert, and the API calls do not
grow with rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from trackline.warehouse.bigquery_client import BigQuery
from trackline.warehouse.bigquery_ddl import FROM_DUCKDB

STAGING_HOURS = 24
Column = tuple[str, str, str]  # name, BigQuery type, mode


def bq_type(duck_type: str) -> tuple[str, str]:
    """A DuckDB column type as BigQuery's (type, mode)."""
    t = duck_type.upper()
    if t.endswith("[]"):
        return FROM_DUCKDB.get(t[:-2], "STRING"), "REPEATED"
    if t == "JSON":
        return "STRING", "NULLABLE"
    return FROM_DUCKDB.get(t, "STRING"), "NULLABLE"


def same_key(keys: Sequence[str], a: str, b: str) -> str:
    """BigQuery SQL saying rows `a` and `b` have the same key (NULL matches NULL)."""
    return " AND ".join(f"{a}.`{k}` IS NOT DISTINCT FROM {b}.`{k}`" for k in keys)


def _expiry() -> datetime:
    return datetime.now(UTC) + timedelta(hours=STAGING_HOURS)


@contextmanager
def staged(bq: BigQuery, name: str, schema: Sequence[Column], path: Path) -> Iterator[str]:
    """The Parquet file `path` loaded into a new staging table (for `name`), whose name is
    given; dropped on the way out."""
    stage = f"_stage_{name}_{uuid.uuid4().hex[:12]}"
    try:
        bq.create_table(stage, schema, expires=_expiry())
        bq.load_parquet(path, stage, replace=True)
        yield stage
    finally:
        bq.drop_table(stage)


def merge_file(
    bq: BigQuery,
    path: Path,
    name: str,
    schema: Sequence[Column],
    keys: Sequence[str],
    *,
    delete_where: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> int:
    """The rows of `path` into the table `name`, only keys it lacks (`WHEN NOT MATCHED THEN
    INSERT`); with `delete_where`, the table's rows matching it that the file lacks are
    deleted in the same statement (a whole set replaced atomically). Rows changed."""
    columns = [c[0] for c in schema]
    cols = ", ".join(f"`{c}`" for c in columns)
    delete = f" WHEN NOT MATCHED BY SOURCE AND {delete_where} THEN DELETE" if delete_where else ""
    with staged(bq, name, schema, path) as stage:
        return bq.execute(
            f"MERGE `{bq.target.table(name)}` t USING `{bq.target.table(stage)}` s "
            f"ON {same_key(keys, 't', 's')} WHEN NOT MATCHED THEN INSERT ({cols}) "
            f"VALUES ({', '.join(f's.`{c}`' for c in columns)}){delete}",
            params,
            step=f"merge rows into {name}",
        )
