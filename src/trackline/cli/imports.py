"""`trackline import spotify-export PATH... [--user ID]`."""

from __future__ import annotations

from typing import Annotated

import typer

from trackline.cli.common import out, print_json, state
from trackline.cli.ingest import print_result

import_app = typer.Typer(help="Import data exports from services.")


@import_app.command("spotify-export")
def spotify_export(
    ctx: typer.Context,
    paths: Annotated[list[str], typer.Argument(help="Export files or folders.")],
    user: Annotated[
        str | None, typer.Option("--user", "-u", help="User id (default: the file's username).")
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Import Spotify streaming history (extended or account data) into `listens`."""
    from trackline.pipelines.export import import_spotify_export

    converted, run = import_spotify_export(state(ctx).settings(), paths, user=user)
    if json_:
        print_json(
            {**run.summary(), "files": [
                {"source": c.source, "kind": c.kind, "rows": c.rows} for c in converted]}
        )  # fmt: skip
        return
    for c in converted:
        out.print(f"{c.source}: {c.rows} records ({c.kind} history)", markup=False)
    print_result(run)


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
