"""`trackline groups create|list`: named groups of users, for sessions of the same people."""

from __future__ import annotations

from typing import Annotated

import typer

from trackline.cli._state import store_for
from trackline.cli.common import out, print_json
from trackline.errors import UsageError

group = typer.Typer(help="Groups: name a set of users once, reuse it for sessions.")


@group.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The group's name.")],
    user: Annotated[
        list[str] | None, typer.Option("--user", "-u", help="A member (repeat for more).")
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Overwrite a group of the same name.")
    ] = False,
) -> None:
    """Create a group of existing users."""
    from trackline.state.groups import create_group

    if not user:
        raise UsageError("give at least one --user ID")
    with store_for(ctx) as (_, store):
        g = create_group(store, name, list(user), replace=replace)
    out.print(f"group {g.name} created with {', '.join(g.user_ids)}", markup=False)


@group.command("list")
def list_(
    ctx: typer.Context,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List groups and their members."""
    from trackline.state.groups import list_groups

    with store_for(ctx) as (_, store):
        groups = list_groups(store)
    if json_:
        print_json([g.to_dict() for g in groups])
        return
    if not groups:
        out.print("no groups yet: `trackline groups create NAME --user ID ...`", markup=False)
        return
    from rich.table import Table

    table = Table("group", "members", "users")
    for g in groups:
        table.add_row(g.name, str(len(g.user_ids)), ", ".join(g.user_ids))
    out.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="groups")
