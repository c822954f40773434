"""Static checks for the SQL expressions in contracts (rules and derived columns).

Expressions are DuckDB SQL over the contract's own columns. They are parsed with sqlglot so
that a reference to an unknown column, a subquery or a function that reaches outside the row
(file readers, settings, environment) is refused when the contract loads, not at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

#: Functions that read files, the environment or the database: never allowed in a contract.
FORBIDDEN_FUNCTION_PREFIXES = (
    "read_",
    "parquet_",
    "sniff_",
    "glob",
    "getenv",
    "current_setting",
    "query",
    "duckdb_",
    "pragma_",
    "sqlite_",
    "postgres_",
    "iceberg_",
    "delta_",
    "load",
    "install",
    "copy",
    "attach",
    "system",
    "shell",
)


@dataclass(frozen=True)
class ExpressionIssue:
    message: str
    fix: str


def check_expression(sql: str, allowed: set[str]) -> ExpressionIssue | None:
    """Return what is wrong with `sql`, or None when it is a safe expression over `allowed`."""
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        first = str(exc).splitlines()[0]
        return ExpressionIssue(
            f"cannot parse expression {sql!r}: {first}",
            "write a single SQL expression such as `a <= b`",
        )
    if (
        isinstance(tree, exp.Query | exp.Command)
        or tree.find(exp.Query, exp.Table, exp.Command) is not None
    ):
        return ExpressionIssue(
            f"expression {sql!r} contains a query or a table reference",
            "use only the contract's columns, operators and scalar functions",
        )
    for func in tree.find_all(exp.Func):
        name = (func.sql_name() if not isinstance(func, exp.Anonymous) else func.name).lower()
        if name.startswith(FORBIDDEN_FUNCTION_PREFIXES):
            return ExpressionIssue(
                f"function {name}() is not allowed in a contract expression",
                "use scalar functions over the record's own columns",
            )
    for col in tree.find_all(exp.Column):
        if col.table:
            return ExpressionIssue(
                f"qualified column {col.sql()!r} in {sql!r}",
                f"write the bare column name {col.name!r}",
            )
        if col.name not in allowed:
            known = ", ".join(sorted(allowed))
            return ExpressionIssue(
                f"expression {sql!r} names unknown column {col.name!r}", f"use one of: {known}"
            )
    return None
