"""`trackline query "SQL" [--json]`: read-only SQL on the warehouse."""

from __future__ import annotations

from typing import Annotated

import typer

from trackline.cli.common import out, print_json, state


def query(
    ctx: typer.Context,
    sql: Annotated[str, typer.Argument(help="One read-only SQL statement (DuckDB dialect).")],
    json_: Annotated[bool, typer.Option("--json", help="Print rows as a JSON array.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="Rows to print in a table.")] = 100,
) -> None:
    """Run read-only SQL on the warehouse (tables per dataset; meta.runs, meta.rejected...)."""
    settings = state(ctx).settings()
    from trackline.warehouse.duckdb import DuckDBWarehouse

    wh = DuckDBWarehouse(settings.warehouse, settings, read_only=True)
    try:
        result = wh.read_only_query(sql)
    finally:
        wh.close()
    if json_:
        print_json(result.to_pylist())
        return
    from rich.table import Table

    table = Table(*result.column_names)
    for row in result.slice(0, limit).to_pylist():
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    out.print(table)
    if result.num_rows > limit:
        out.print(f"... {result.num_rows - limit} more rows (use --limit or --json)")


def register(app: typer.Typer) -> None:
    app.command("query")(query)
