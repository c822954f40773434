"""Entry point: global options, command groups, and the one top-level error handler."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from trackline.cli import aggregate as aggregate_cli
from trackline.cli import analytics as analytics_cli
from trackline.cli import (
    cdc,
    config,
    connectors,
    contracts,
    dashboard,
    demo,
    deploy,
    generate,
    groups,
    ingest,
    keys,
    query,
    report,
    runs,
    sessions,
    streaming,
    users,
    worker,
)
from trackline.cli import model as model_cli
from trackline.cli import recommend as recommend_cli
from trackline.cli.common import State, err, fail, one_line, print_json, setup_logging

app = typer.Typer(
    name="trackline",
    help="Listening and commerce event pipelines: validate, land, model, report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        from trackline import __version__

        typer.echo(f"trackline {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            envvar="TRACKLINE_HOME",
            help="Where lake, warehouse and state live.",
            show_default="./.trackline",
        ),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Read settings from this TOML file (else TRACKLINE_CONFIG, else "
            "<home>/trackline.toml, else ./trackline.toml if only you can write it).",
            dir_okay=False,
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    # By name: typer ships its own click, whose enum is not click's.
    if getattr(ctx.get_parameter_source("home"), "name", None) != "COMMANDLINE":
        home = None  # TRACKLINE_HOME is read with the other settings (and shown as env)
    ctx.obj = State(home=home, debug=debug, quiet=quiet, config=config_file)
    setup_logging(debug, quiet)


contracts.register(app)
ingest.register(app)
runs.register(app)
report.register(app)
query.register(app)
generate.register(app)
demo.register(app)
users.register(app)
keys.register(app)
sessions.register(app)
groups.register(app)
connectors.register(app)
model_cli.register(app)
analytics_cli.register(app)
recommend_cli.register(app)
aggregate_cli.register(app)
streaming.register(app)
cdc.register(app)
worker.register(app)
dashboard.register(app)
deploy.register(app)
config.register(app)


def run() -> None:
    """Console-script entry: maps errors to exit codes (2 = unusable call, 1 = failure).

    Typer's standalone mode already prints usage errors and exits 2; everything trackline
    raises on purpose is printed here as one line, with a traceback only under --debug.
    """
    debug = "--debug" in sys.argv or os.environ.get("TRACKLINE_DEBUG") == "1"
    json_output = "--json" in sys.argv[1:]
    try:
        if json_output:
            sys.exit(_run_json())
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # TracklineError: its own code; anything else: 1
        sys.exit(fail(exc, debug=debug, json_output=json_output))


def _run_json() -> int:
    """A --json call: a usage error typer/click finds (a missing argument, a bad option value)
    is also one `{error, exit_code}` object on stdout, its message one line on stderr."""
    from typer import _click

    try:
        code = app(standalone_mode=False)
    except _click.exceptions.ClickException as exc:
        where = getattr(getattr(exc, "ctx", None), "command_path", "trackline")
        message = one_line(f"{exc.format_message()} (see {where} --help)")
        err.print(f"error: {message}", markup=False)
        print_json({"error": message, "exit_code": exc.exit_code})
        return exc.exit_code
    except typer.Abort:
        err.print("aborted")
        return 1
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    run()
