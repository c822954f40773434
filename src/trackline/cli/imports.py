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
    """Import Spotify streaming history (extended or account data): music into `listens`,
    podcast episodes and audiobooks into `episodes`; its users become known."""
    from trackline.pipelines.export import import_spotify_export

    done = import_spotify_export(state(ctx).settings(), paths, user=user)
    if json_:
        print_json(
            {
                **done.main.summary(),
                "runs": {d: r.summary() for d, r in done.runs.items()},
                "files": [
                    {"source": c.source, "kind": c.kind, "rows": c.rows, "datasets": c.counts}
                    for c in done.files
                ],
                "users": done.users,
                "users_refused": done.unregistered,
            }
        )
        return
    for c in done.files:
        parts = ", ".join(f"{n} {d}" for d, n in c.counts.items() if n)
        what = f"{c.kind} history: {parts or 'none'}"
        out.print(f"{c.source}: {c.rows} records ({what})", markup=False)
    for r in done.runs.values():
        print_result(r)
    if done.users:
        out.print(f"users known: {', '.join(done.users)}", markup=False)
    for u, why in done.unregistered.items():
        out.print(f"user {u!r} not added to the state store: {why}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
