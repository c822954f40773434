"""`trackline recommend --user U | --group G [--n 20] [--json]`: what to listen to next."""

from __future__ import annotations

from typing import Annotated

import typer

from trackline.cli.common import out, print_json, state
from trackline.errors import UsageError


def recommend(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option("--user", "-u", help="A member.")] = None,
    group: Annotated[str | None, typer.Option("--group", "-g", help="A named group.")] = None,
    n: Annotated[int, typer.Option("--n", help="How many tracks.")] = 20,
    method: Annotated[
        str, typer.Option("--method", help="knn (built in) or als (needs trackline[recs]).")
    ] = "knn",
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same list.")] = 0,
    json_: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
) -> None:
    """Tracks a member or a group has not played yet, each with the reason it was picked."""
    if (user is None) == (group is None):
        raise UsageError("give exactly one of --user U or --group G")
    from trackline.analytics.members import members
    from trackline.recommend.service import recommend as run_recommend

    settings = state(ctx).settings()
    users = [user] if user is not None else members(settings, str(group))
    recs = run_recommend(settings, users, n=n, method=method, seed=seed)
    if json_:
        print_json(
            {
                "user": user,
                "group": group,
                "members": users,
                "method": method,
                "recommendations": [r.as_dict() for r in recs],
            }
        )
        return
    from rich.table import Table

    table = Table("#", "track", "artist", "score", "why")
    for i, r in enumerate(recs, 1):
        name = r.track_name or r.track_id
        table.add_row(str(i), name, r.artist_name or "", f"{r.score:.3f}", r.reason)
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("recommend")(recommend)
