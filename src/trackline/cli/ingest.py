"""`trackline ingest PATH... --dataset NAME [--engine local|beam ...] [--json]`.

The Beam flags (`EngineOpt`, `RunnerOpt`...) are shared with `trackline stream`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from trackline.cli.common import out, print_json, state

if TYPE_CHECKING:
    from trackline.engines.beam.options import RunnerOptions
    from trackline.engines.local import RunResult

EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="local (DuckDB on this machine) or beam (Apache Beam; needs trackline[beam]).",
    ),
]
RunnerOpt = Annotated[
    str,
    typer.Option("--runner", help="Beam runner: DirectRunner, DataflowRunner, FlinkRunner..."),
]
ProjectOpt = Annotated[str | None, typer.Option("--project", help="Beam: Google Cloud project.")]
RegionOpt = Annotated[str | None, typer.Option("--region", help="Beam: Dataflow region.")]
TempOpt = Annotated[
    str | None,
    typer.Option("--temp-location", help="Beam: a gs:// (or local) folder for temporary files."),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--num-workers",
        help="Beam: workers (DirectRunner: processes, one in-process worker by default).",
    ),
]
ENGINES = ("local", "beam")


def ingest(
    ctx: typer.Context,
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Files, folders or globs to ingest; after `--`, Beam pipeline options "
            "(--name=value, --engine beam only)."
        ),
    ],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Contract name.")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Validate again even if these exact inputs were ingested."),
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    engine_name: EngineOpt = "local",
    runner: RunnerOpt = "DirectRunner",
    project: ProjectOpt = None,
    region: RegionOpt = None,
    temp_location: TempOpt = None,
    num_workers: WorkersOpt = None,
) -> None:
    """Validate files against a contract and land them in the lake and the warehouse."""
    st = state(ctx)
    # a path cannot start with `--` unless it came after `--`: those are Beam's options
    beam_args = [p for p in paths if p.startswith("--")]
    paths = [p for p in paths if not p.startswith("--")]
    options = runner_options(
        engine_name, runner, project, region, temp_location, num_workers, beam_args
    )
    if options is None:
        from trackline.engines.local import LocalEngine

        engine = LocalEngine(st.settings(), reporter=st.reporter())
        result = engine.ingest(paths, dataset, force=force)
    else:
        from trackline.engines.beam.options import require_beam

        require_beam()
        from trackline.engines.beam.engine import BeamEngine

        beam_engine = BeamEngine(st.settings(), reporter=st.reporter(), runner=options)
        result = beam_engine.ingest(paths, dataset, force=force)
    if json_:
        print_json(result.summary())
    else:
        print_result(result)


def runner_options(
    engine: str,
    runner: str,
    project: str | None,
    region: str | None,
    temp_location: str | None,
    num_workers: int | None,
    extra: list[str],
) -> RunnerOptions | None:
    """The Beam runner's options for `--engine beam` (None for the local engine, which takes
    no Beam flag: one given is an unusable call)."""
    from trackline.errors import UsageError

    if engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "local":
        given = [
            flag
            for flag, value in (
                ("--runner", runner != "DirectRunner"),
                ("--project", project),
                ("--region", region),
                ("--temp-location", temp_location),
                ("--num-workers", num_workers is not None),
                ("Beam options after --", extra),
            )
            if value
        ]
        if given:
            raise UsageError(f"{', '.join(given)}: only with --engine beam")
        return None
    from trackline.engines.beam.options import RunnerOptions

    return RunnerOptions(
        runner=runner,
        project=project,
        region=region,
        temp_location=temp_location,
        num_workers=num_workers,
        extra=tuple(extra),
    )


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
