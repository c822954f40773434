"""`trackline report RUN`: the quality and slice (bias) report of a run."""

from __future__ import annotations

from typing import Annotated

import typer

from trackline.cli.common import out, print_json, state


def report(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id or prefix (see `trackline runs`).")],
    json_: Annotated[
        bool, typer.Option("--json", help="Print quality and slices as JSON.")
    ] = False,
) -> None:
    """Show a run's quality profile and slice report."""
    settings = state(ctx).settings()
    from trackline.runs import history

    m = history.get_manifest(settings, run_id)
    reports = history.get_reports(settings, m.run_id)
    if json_:
        print_json({"run_id": m.run_id, "dataset": m.dataset, **reports})
        return
    run_doc = {
        "run_id": m.run_id,
        "dataset": m.dataset,
        "started_at": m.started_at.isoformat(),
        "counts": m.counts.model_dump(),
    }
    from trackline.quality.render import render_markdown

    text = render_markdown(run_doc, reports.get("quality", {}), reports.get("slices", {}))
    if out.is_terminal:
        from rich.markdown import Markdown

        out.print(Markdown(text))
    else:
        out.print(text, markup=False)
    html = [o.path for o in m.outputs.get("reports", []) if o.path.endswith(".html")]
    if html:
        out.print(f"HTML report: {html[0]}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
