"""`trackline model [--select ...] [--json]`: build the warehouse models and run their tests."""

from __future__ import annotations

from typing import Annotated

import typer

from trackline.cli.common import out, print_json, state
from trackline.errors import ModelError


def model(
    ctx: typer.Context,
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select",
            "-s",
            help="dbt selection (e.g. marts, +user_top_tracks, silver_listens); repeatable.",
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            help="dbt target: local (DuckDB) or bigquery (default: the warehouse's kind).",
        ),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Build bronze -> silver -> gold models and marts with dbt, then run their data tests."""
    from trackline.models import runner

    settings = state(ctx).settings()
    run = runner.build(settings, select or [], target)
    summary = run.summary()
    if json_:
        print_json(summary)
    else:
        from rich.table import Table

        table = Table("node", "kind", "status", "seconds", "message")
        for n in run.nodes:
            if n.kind == "model" or not n.ok:
                table.add_row(n.name, n.kind, n.status, f"{n.seconds:.2f}", n.message)
        out.print(table)
        out.print(
            f"{summary['models']['ok']} models built, {summary['tests']['passed']} tests passed,"
            f" {summary['skipped']} skipped in {summary['seconds']:.1f}s",
            markup=False,
        )
    if not run.ok:
        names = ", ".join(f"{n.name} ({n.status})" for n in run.failed[:5])
        more = f" and {len(run.failed) - 5} more" if len(run.failed) > 5 else ""
        raise ModelError(
            f"{len(run.failed)} models or tests failed: {names}{more}; "
            "see the messages above or the dbt log under <home>/dbt/logs "
            "(a selection needs its upstream models built: select with a leading +)"
        )


def register(app: typer.Typer) -> None:
    app.command("model")(model)
