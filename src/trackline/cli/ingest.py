"""`trackline ingest PATH... --dataset NAME [--json]`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from trackline.cli.common import out, print_json, state

if TYPE_CHECKING:
    from trackline.engines.local import RunResult


def ingest(
    ctx: typer.Context,
    paths: Annotated[list[str], typer.Argument(help="Files, folders or globs to ingest.")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Contract name.")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Validate again even if these exact inputs were ingested."),
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Validate files against a contract and land them in the lake and the warehouse."""
    st = state(ctx)
    from trackline.engines.local import LocalEngine

    engine = LocalEngine(st.settings(), reporter=st.reporter())
    result = engine.ingest(paths, dataset, force=force)
    if json_:
        print_json(result.summary())
    else:
        print_result(result)


def print_result(result: RunResult) -> None:
    from rich.table import Table

    s: dict[str, Any] = result.summary()
    c = s["counts"]
    out.print(f"[bold]run {s['run_id']}[/] dataset [bold]{s['dataset']}[/]: {s['message']}")
    table = Table("input", "valid", "rejected", "duplicates", show_edge=False)
    table.add_row(str(c["input"]), str(c["valid"]), str(c["rejected"]), str(c["duplicates"]))
    out.print(table)
    if c["rejected_by_reason"]:
        reasons = ", ".join(f"{k} {v}" for k, v in list(c["rejected_by_reason"].items())[:8])
        out.print(f"rejected by reason: {reasons}", markup=False)
    for k in ("curated", "rejected", "reports", "manifest"):
        if k in s["paths"]:
            out.print(f"  {k:<9} {s['paths'][k]}", markup=False)
    out.print(f"next: trackline report {s['run_id']}  |  trackline runs show {s['run_id']}")


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
