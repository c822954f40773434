"""`trackline fetch spotify|youtube|fakestore [--user ID...] [--json]` and `trackline spool`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

import typer

from trackline.cli.common import err, out, print_json, state

if TYPE_CHECKING:
    from trackline.pipelines.fetch import UserFetchResult

#: The providers `fetch` knows (the keys of trackline.pipelines.fetch.CONNECTORS; a test keeps
#: them equal), named here so the help does not import the fetch pipeline.
CONNECTORS = ("spotify", "youtube", "fakestore")


def fetch(
    ctx: typer.Context,
    provider: Annotated[str, typer.Argument(help=f"One of: {', '.join(CONNECTORS)}.")],
    user: Annotated[
        list[str] | None,
        typer.Option("--user", "-u", help="Only these users (repeat); default: all connected."),
    ] = None,
    allow_partial: Annotated[
        bool,
        typer.Option(
            "--allow-partial",
            help="Exit 0 when some of a user's endpoints failed but others were fetched.",
        ),
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Fetch connected users' data from an API into the lake and the warehouse.

    Exits 1 when any user's fetch failed, an endpoint's included (status `partial`, unless
    --allow-partial) or all of them (status `error`).
    """
    from trackline.pipelines.fetch import fetch_users

    if not state(ctx).debug:  # the table below says per user what its log line would
        logging.getLogger("trackline.pipelines.fetch").setLevel(logging.WARNING)
    settings = state(ctx).settings()
    summary = fetch_users(settings, provider, user or None, allow_partial=allow_partial)
    if json_:
        print_json(summary.as_dict())
    else:
        print_results(summary.results)
        out.print(
            f"{len(summary.results)} users in {summary.seconds:.1f}s, "
            f"{len(summary.failed)} failed, "
            f"{summary.http['requests']} requests, {summary.http['retries']} retries",
            markup=False,
        )
    if summary.failed:
        raise typer.Exit(1)


def print_results(results: list[UserFetchResult]) -> None:
    from rich.table import Table

    table = Table("user", "status", "fetched", "added", "rejected", "dup", show_edge=False)
    for r in results:
        table.add_row(
            r.user_id,
            r.status,
            str(sum(r.fetched.values())),
            str(sum(r.added.values())),
            str(sum(r.rejected.values())),
            str(sum(r.duplicates.values())),
        )
    out.print(table)
    for r in results:
        for reasons in r.rejected_by_reason.values():
            text = ", ".join(f"{k} {v}" for k, v in list(reasons.items())[:6])
            out.print(f"  {r.user_id}: rejected by reason: {text}", markup=False)
        for note in r.notes:
            out.print(f"  {r.user_id}: {note}", markup=False)
        if r.error:
            err.print(f"  {r.user_id}: {r.status}: {r.error}", markup=False)


spool_app = typer.Typer(help="The local spool of fetched records waiting for the lake.")


@spool_app.command("flush")
def spool_flush(
    ctx: typer.Context,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Replay spooled fetches into the lake and the warehouse (idempotent)."""
    from trackline.pipelines.fetch import flush_spool
    from trackline.sources.spool import pending

    settings = state(ctx).settings()
    results = flush_spool(settings)
    left = pending(settings)
    if json_:
        print_json({"flushed": [r.as_dict() for r in results], "pending": len(left)})
    else:
        print_results(results)
        out.print(f"{len(results)} batches replayed, {len(left)} still pending", markup=False)
    if left:
        raise typer.Exit(1)


@spool_app.command("list")
def spool_list(
    ctx: typer.Context,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show spooled batches waiting to be flushed."""
    from trackline.sources.spool import pending

    batches = pending(state(ctx).settings())
    rows = [
        {"provider": b.provider, "user_id": b.user_id, "path": str(b.path),
         "datasets": sorted(b.files())}
        for b in batches
    ]  # fmt: skip
    if json_:
        print_json({"pending": rows})
        return
    for r in rows:
        out.print(f"{r['provider']} {r['user_id']} {', '.join(r['datasets'])}  {r['path']}")
    out.print(f"{len(rows)} batches pending", markup=False)


def register(app: typer.Typer) -> None:
    app.command("fetch")(fetch)
    app.add_typer(spool_app, name="spool")
