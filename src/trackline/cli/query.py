"""`trackline query "SQL" [--json]`: read-only SQL on the warehouse."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from trackline.cli.common import dumps, jsonable, out, state


def query(
    ctx: typer.Context,
    sql: Annotated[
        str,
        typer.Argument(help="One read-only SQL statement (DuckDB dialect; BigQuery: translated)."),
    ],
    json_: Annotated[bool, typer.Option("--json", help="Print rows as a JSON array.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="Rows to print in a table.")] = 100,
) -> None:
    """Run read-only SQL on the warehouse (tables per dataset; meta.runs, meta.rejected...).

    Exit 2 when the SQL is refused or cannot run as written, 1 when it fails while running.
    """
    settings = state(ctx).settings()
    from trackline.warehouse.base import open_warehouse
    from trackline.warehouse.duckdb import QueryFailedError

    wh = open_warehouse(settings, read_only=True)
    try:
        result = wh.read_only_query(sql)
    finally:
        wh.close()
    try:  # Python cannot hold every DuckDB value (an infinite date, a year past 9999)
        rows = (result if json_ else result.slice(0, limit)).to_pylist()
    except (OverflowError, ValueError) as exc:
        raise QueryFailedError(
            f"query failed: a value cannot be shown ({exc}); cast that column to VARCHAR"
        ) from None
    if json_:
        # The shared encoder; the data's own text is left as it is (no timestamp rewriting).
        doc = [{k: jsonable(v) for k, v in row.items()} for row in rows]
        sys.stdout.write(dumps(doc) + "\n")
        sys.stdout.flush()
        return
    from rich.table import Table

    table = Table(*result.column_names)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    out.print(table)
    if result.num_rows > limit:
        out.print(f"... {result.num_rows - limit} more rows (use --limit or --json)")


def register(app: typer.Typer) -> None:
    app.command("query")(query)
