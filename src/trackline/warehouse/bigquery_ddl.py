"""BigQuery DDL generated from a contract (design.md 3.5): one table per contract with the same
columns as the DuckDB warehouse, partitioned and clustered as the contract says.

Pure text generation: no client, no network. The BigQuery warehouse (`bigquery_run.py`) creates
the same tables through the API from `table_schema`, `time_partitioning` and `cluster_fields`;
the DDL text is for a deployment that creates them itself. The dbt project's `bigquery` target
reads these tables as its bronze sources.
"""

from __future__ import annotations

import re

from trackline.contracts.spec import Contract
from trackline.core.dialect import Dialect, ident, literal
from trackline.errors import UsageError

BIGQUERY_TYPES: dict[str, str] = {
    "string": "STRING",
    "int64": "INT64",
    "float64": "FLOAT64",
    "bool": "BOOL",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
}
#: DuckDB types of derived columns (as the kernel computes them) in BigQuery terms.
FROM_DUCKDB: dict[str, str] = {
    "VARCHAR": "STRING",
    "BIGINT": "INT64",
    "INTEGER": "INT64",
    "SMALLINT": "INT64",
    "HUGEINT": "NUMERIC",
    "DOUBLE": "FLOAT64",
    "FLOAT": "FLOAT64",
    "BOOLEAN": "BOOL",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
    "TIMESTAMPTZ": "TIMESTAMP",
    "TIMESTAMP": "DATETIME",
    "DATE": "DATE",
}
BQ: Dialect = "bigquery"
MAX_CLUSTER_COLUMNS = 4  # BigQuery's limit
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,1023}$")


def partition_clause(contract: Contract) -> str | None:
    """`PARTITION BY ...` for the contract's first partition key BigQuery can express."""
    for p in contract.partitions:
        spec = contract.fields.get(p.field)
        if spec is None or spec.type not in ("timestamp", "date"):
            continue  # BigQuery partitions by time (or integer ranges, which contracts lack)
        col = ident(p.field, BQ)
        if p.transform == "month":
            fn = "TIMESTAMP_TRUNC" if spec.type == "timestamp" else "DATE_TRUNC"
            return f"PARTITION BY {fn}({col}, MONTH)"
        return f"PARTITION BY DATE({col})" if spec.type == "timestamp" else f"PARTITION BY {col}"
    return None


def bigquery_ddl(
    contract: Contract,
    dataset: str,
    *,
    project: str | None = None,
    derived_types: dict[str, str] | None = None,
) -> str:
    """CREATE TABLE IF NOT EXISTS for `contract` in `project.dataset`."""
    for label, value in (("dataset", dataset), ("project", project)):
        if value is not None and not NAME.match(value):
            raise UsageError(f"invalid BigQuery {label} name {value!r}")
    derived_types = derived_types or {}
    columns = []
    for name, spec in contract.fields.items():
        col = f"  {ident(name, BQ)} {BIGQUERY_TYPES[spec.type]}"
        if spec.required or name in contract.primary_key:
            col += " NOT NULL"
        if spec.description:
            col += f" OPTIONS(description={literal(spec.description, BQ)})"
        columns.append(col)
    for name in contract.derived:
        duck_type = derived_types.get(name, "DOUBLE").upper()
        columns.append(f"  {ident(name, BQ)} {FROM_DUCKDB.get(duck_type, 'STRING')}")
    columns += ["  `ingestion_time` TIMESTAMP NOT NULL", "  `run_id` STRING NOT NULL"]
    target = f"{project}.{dataset}" if project else dataset
    lines = [f"CREATE TABLE IF NOT EXISTS `{target}.{contract.name}` (", ",\n".join(columns), ")"]
    partition = partition_clause(contract)
    if partition:
        lines.append(partition)
    cluster = [c for c in contract.cluster_by if c in contract.fields][:MAX_CLUSTER_COLUMNS]
    if cluster:
        lines.append("CLUSTER BY " + ", ".join(ident(c, BQ) for c in cluster))
    if contract.description:
        lines.append(f"OPTIONS(description={literal(contract.description, BQ)})")
    return "\n".join(lines) + ";"


# The same table, as the API creates it (the warehouse creates its tables through the client).
Column = tuple[str, str, str]  # name, BigQuery type, mode
LINEAGE_COLUMNS: list[Column] = [
    ("_source_file", "STRING", "NULLABLE"),
    ("_source_line", "INT64", "NULLABLE"),
]
RUN_COLUMNS: list[Column] = [
    ("ingestion_time", "TIMESTAMP", "REQUIRED"),
    ("run_id", "STRING", "REQUIRED"),
]


def table_schema(contract: Contract, derived_types: dict[str, str]) -> list[Column]:
    """The contract's table: its fields, derived columns, lineage, `ingestion_time`, `run_id`."""
    columns: list[Column] = [
        (n, BIGQUERY_TYPES[s.type], "REQUIRED" if s.required else "NULLABLE")
        for n, s in contract.fields.items()
    ]
    for name in contract.derived:
        duck_type = derived_types.get(name, "DOUBLE").upper()
        columns.append((name, FROM_DUCKDB.get(duck_type, "STRING"), "NULLABLE"))
    return columns + LINEAGE_COLUMNS + RUN_COLUMNS


def time_partitioning(contract: Contract) -> tuple[str, str] | None:
    """(field, DAY | MONTH) of the contract's first time partition key, as `partition_clause`."""
    for p in contract.partitions:
        spec = contract.fields.get(p.field)
        if spec is not None and spec.type in ("timestamp", "date"):
            return p.field, "MONTH" if p.transform == "month" else "DAY"
    return None


def cluster_fields(contract: Contract) -> list[str]:
    return [c for c in contract.cluster_by if c in contract.fields][:MAX_CLUSTER_COLUMNS]
