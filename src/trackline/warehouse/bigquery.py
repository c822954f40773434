"""The BigQuery warehouse, read side: `trackline query`, `runs`, `report` and the dashboard.

Callers write one SQL for both warehouses: DuckDB's dialect, `$name` parameters, the contract
tables as `name` or `main.name`, the metadata tables as `meta.runs`, `meta.rejected`,
`meta.reports`. `to_bigquery` turns that into BigQuery SQL (sqlglot): every table qualified
with the warehouse's project and dataset, `meta.X` as the table `meta_X` of that dataset (one
dataset holds everything), `$name` as `@name`.

Read-only means read-only: a user's statement must parse as one query (SELECT, WITH, set
operations), and BigQuery's own dry run must call it a SELECT, before it runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from trackline.config import Settings
from trackline.errors import QueryError
from trackline.warehouse.bigquery_client import BigQuery
from trackline.warehouse.bigquery_target import Target

META_PREFIX = "meta_"
META_TABLES = ("runs", "rejected", "reports")


def meta_table(name: str) -> str:
    """The BigQuery table that holds `meta.<name>`."""
    return META_PREFIX + name


def to_bigquery(sql: str, target: Target) -> str:
    """Trackline's portable SQL (DuckDB dialect) as BigQuery SQL on `target`."""
    import sqlglot
    from sqlglot import exp

    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise QueryError(f"cannot parse query: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise QueryError("give exactly one SQL statement")
    tree = statements[0]
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        name, schema = table.name, table.db
        if not name or (not schema and name in ctes):
            continue
        if schema.lower() == "meta":
            name = meta_table(name)
        elif schema.lower() == "information_schema":
            name = f"INFORMATION_SCHEMA.{name.upper()}"
        elif schema and schema.lower() not in ("main", target.dataset.lower()):
            continue  # another dataset, named by the caller: left as written
        table.set("this", exp.to_identifier(name))
        table.set("db", exp.to_identifier(target.dataset))
        table.set("catalog", exp.to_identifier(target.project))
    return tree.sql(dialect="bigquery")


def is_query(sql: str) -> bool:
    """One statement that only reads (a SELECT, WITH ... SELECT or a set operation)."""
    import sqlglot
    from sqlglot import exp

    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.ParseError:
        return False
    return len(statements) == 1 and isinstance(statements[0], exp.Query)


class BigQueryWarehouse:
    """A `Warehouse` on a BigQuery dataset (`bigquery://PROJECT/DATASET`)."""

    name = "bigquery"
    dialect = "bigquery"

    def __init__(self, settings: Settings, *, read_only: bool = False) -> None:
        self.read_only = read_only
        self.bq = BigQuery(settings)
        self.target = self.bq.target

    def relation(self, schema: str, name: str) -> str:
        """The quoted, qualified name of `schema.name` (`meta.runs`, `main.listens`)."""
        table = meta_table(name) if schema == "meta" else name
        return f"`{self.target.table(table)}`"

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        return self.bq.query(to_bigquery(sql, self.target), params)

    def read_only_query(self, sql: str) -> pa.Table:
        """Run a user's query: refused (exit 2) unless it is one statement that only reads."""
        if not is_query(sql):
            raise QueryError(
                "only read-only queries are allowed here (one SELECT); "
                "the warehouse is written by trackline runs"
            )
        text = to_bigquery(sql, self.target)
        kind = self.bq.statement_type(text)
        if kind.upper() != "SELECT":
            raise QueryError(f"only read-only queries are allowed here (got {kind or 'unknown'})")
        return self.bq.query(text)

    def tables(self) -> list[str]:
        """The contract tables and `meta.*` tables the dataset holds."""
        rows = self.bq.query(
            f"SELECT table_name FROM `{self.target.project}.{self.target.dataset}`"
            ".INFORMATION_SCHEMA.TABLES ORDER BY table_name"
        )
        names = [str(n) for n in rows.column("table_name").to_pylist()]
        return [
            f"meta.{n.removeprefix(META_PREFIX)}" if n.startswith(META_PREFIX) else n
            for n in names
            if not n.startswith("_")
        ]

    def has_runs(self) -> bool:
        return self.bq.table_columns(meta_table("runs")) is not None

    def close(self) -> None:
        self.bq.close()
