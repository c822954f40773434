"""`trackline query "SQL" [--json]`: read-only SQL on the warehouse."""

from __future__ import annotations

import base64
import json
import math
import sys
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Annotated, Any

import typer

from trackline.cli.common import out, state


def query(
    ctx: typer.Context,
    sql: Annotated[str, typer.Argument(help="One read-only SQL statement (DuckDB dialect).")],
    json_: Annotated[bool, typer.Option("--json", help="Print rows as a JSON array.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="Rows to print in a table.")] = 100,
) -> None:
    """Run read-only SQL on the warehouse (tables per dataset; meta.runs, meta.rejected...).

    Exit 2 when the SQL is refused or cannot run as written, 1 when it fails while running.
    """
    settings = state(ctx).settings()
    from trackline.warehouse.duckdb import DuckDBWarehouse, QueryFailedError

    wh = DuckDBWarehouse(settings.warehouse, settings, read_only=True)
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
        doc = [{k: jsonable(v) for k, v in row.items()} for row in rows]
        sys.stdout.write(json.dumps(doc, allow_nan=False) + "\n")  # strict JSON, or fail
        sys.stdout.flush()
        return
    from rich.table import Table

    table = Table(*result.column_names)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    out.print(table)
    if result.num_rows > limit:
        out.print(f"... {result.num_rows - limit} more rows (use --limit or --json)")


def jsonable(value: Any) -> Any:
    """A query value as strict JSON: NaN and infinities -> null, bytes -> base64 text,
    timestamps -> RFC 3339 in UTC with `Z` (the warehouse's clock is UTC), and the rest of
    DuckDB's types (decimals with a scale, intervals, UUIDs...) -> their text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):  # exact: HUGEINT (sum of integers) a number, DECIMAL text
        return int(value) if value.as_tuple().exponent == 0 else str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, date | time):
        return value.isoformat()
    months = getattr(value, "months", None)
    if isinstance(months, int):  # an INTERVAL (Arrow's month-day-nano, a tuple): ISO 8601
        seconds = value.nanoseconds / 1e9
        return f"P{months}M{value.days}DT{seconds:g}S"
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


def register(app: typer.Typer) -> None:
    app.command("query")(query)
