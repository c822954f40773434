"""BigQuery DDL generated from a contract (design.md 3.5): one table per contract with the same
columns as the DuckDB warehouse, partitioned and clustered as the contract says.

Pure text generation: no client, no network. Applying it is the cloud deployment's job; the
dbt project's `bigquery` target then reads these tables as its bronze sources.
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
