"""Quoting identifiers and literals for the SQL trackline writes: the one place for it.

DuckDB is the default dialect (the kernel, the local warehouse, exports); BigQuery's is used by
its DDL. Names come from contracts and files and may hold any character, so they are always
quoted, never pasted.
"""

from __future__ import annotations

from typing import Literal

Dialect = Literal["duckdb", "bigquery"]


def ident(name: str, dialect: Dialect = "duckdb") -> str:
    """A quoted identifier: `"name"` for DuckDB (quotes doubled), `` `name` `` for BigQuery."""
    if dialect == "bigquery":
        return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"
    return '"' + name.replace('"', '""') + '"'


def literal(value: str | int | float | bool, dialect: Dialect = "duckdb") -> str:
    """A SQL literal for a constant: numbers as written, booleans as keywords, text quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if dialect == "bigquery":
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return '"' + escaped + '"'
    return "'" + value.replace("'", "''") + "'"
