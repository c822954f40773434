"""`trackline runs` and `trackline runs show RUN`."""

from __future__ import annotations

from typing import Annotated

import typer

from trackline.cli.common import out, print_json, state

group = typer.Typer(help="Runs: list them, show one's manifest.", invoke_without_command=True)


@group.callback()
def list_runs(
    ctx: typer.Context,
    dataset: Annotated[
        str | None, typer.Option("--dataset", "-d", help="Only this dataset.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many, newest first.")] = 50,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List runs, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    from trackline.runs import history

    rows = history.list_runs(state(ctx).settings(), dataset=dataset, limit=limit)
    if json_:
        print_json(rows)
        return
    if not rows:
        out.print("no runs yet: try `trackline demo`")
        return
    from rich.table import Table

    table = Table(
        "run", "dataset", "status", "started (UTC)", "input", "valid", "rejected", "duplicates"
    )
    for r in rows:
        table.add_row(
            str(r["run_id"]),
            str(r["dataset"]),
            str(r["status"]),
            f"{r['started_at']:%Y-%m-%d %H:%M:%S}",
            str(r["input_rows"]),
            str(r["valid_rows"]),
            str(r["rejected_rows"]),
            str(r["duplicate_rows"]),
        )
    out.print(table)


@group.command("show")
def show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id or prefix.")],
    json_: Annotated[bool, typer.Option("--json", help="Print the manifest.")] = False,
) -> None:
    """Show a run's manifest: inputs, outputs, counts, timings."""
    from trackline.runs import history

    m = history.get_manifest(state(ctx).settings(), run_id)
    if json_:
        print_json(m.model_dump(mode="json"))
        return
    c = m.counts
    out.print(
        f"[bold]run {m.run_id}[/] {m.dataset} ({m.status}) contract v{m.contract['version']}"
        f" started {m.started_at:%Y-%m-%d %H:%M:%S} UTC, trackline {m.package_version}"
    )
    out.print(
        f"counts: input {c.input} = valid {c.valid} + rejected {c.rejected} + duplicates "
        f"{c.duplicates} (in input {c.duplicates_in_input}, already in warehouse "
        f"{c.duplicates_in_warehouse})"
    )
    if c.rejected_by_reason:
        out.print(
            "rejected by reason: " + ", ".join(f"{k} {v}" for k, v in c.rejected_by_reason.items()),
            markup=False,
        )
    out.print("inputs:")
    for i in m.inputs:
        out.print(
            f"  {i.uri} ({i.bytes} bytes, sha256 {i.sha256[:12]}) -> {i.landed}", markup=False
        )
    for kind, files in m.outputs.items():
        out.print(f"{kind}:")
        for f in files:
            rows = f" {f.rows} rows" if f.rows is not None else ""
            out.print(f"  {f.path}{rows} sha256 {f.sha256[:12]}", markup=False)
    out.print("timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in m.timings.items()))
    if m.error:
        out.print(f"error: {m.error}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="runs")
