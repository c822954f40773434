"""`trackline aggregate [--date D] [--json]`: a day's aggregates into the serving store."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer

from trackline.cli.common import out, print_json, state
from trackline.errors import UsageError


def aggregate(
    ctx: typer.Context,
    day: Annotated[
        str | None, typer.Option("--date", help="UTC day YYYY-MM-DD (default: yesterday).")
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Per user, genre and country: events, plays, unique songs, minutes; served by key."""
    from trackline.serving.aggregate import aggregate_day

    parsed: date | None = None
    if day is not None:
        try:
            parsed = datetime.strptime(day, "%Y-%m-%d").date()
        except ValueError:
            raise UsageError(f"--date must look like 2024-05-01, got {day!r}") from None
    summary = aggregate_day(state(ctx).settings(), parsed)
    if json_:
        print_json(summary)
        return
    rows = ", ".join(f"{n} {d}" for d, n in summary["rows"].items())
    out.print(
        f"{summary['date']}: wrote {summary['written']} daily aggregates ({rows}) "
        f"to {summary['serving_uri']}",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    app.command("aggregate")(aggregate)
