"""`trackline analytics group --group G [--user U...] [--json]`: a friend group's listening."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from trackline.cli.common import out, print_json, state

if TYPE_CHECKING:
    from rich.table import Table

app = typer.Typer(help="Listening analytics.", no_args_is_help=True)


def _table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> Table:
    from rich.table import Table

    table = Table(*columns, title=title, title_justify="left")
    for r in rows:
        table.add_row(*("" if r.get(c) is None else str(r.get(c)) for c in columns))
    return table


@app.command("group")
def group(
    ctx: typer.Context,
    group_name: Annotated[
        str | None, typer.Option("--group", "-g", help="A named group (see `groups list`).")
    ] = None,
    users: Annotated[
        list[str] | None, typer.Option("--user", "-u", help="A member; repeatable.")
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Items per list.")] = 10,
    json_: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Top tracks and artists per member, who played the group's favourites most, pairwise
    overlap (shared tracks, artists, Jaccard) and a blend for the whole group."""
    from trackline.analytics.group_listening import analyse_group
    from trackline.analytics.members import resolve

    settings = state(ctx).settings()
    members = resolve(settings, group_name, users)
    report = analyse_group(settings, members, top_n=top)
    if group_name:
        report = {"group": group_name, **report}
    if json_:
        print_json(report)
        return
    for user, info in report["per_member"].items():
        out.print(
            _table(
                f"{user}: {info['plays']} plays",
                [{**t, "kind": "track"} for t in info["top_tracks"][:5]]
                + [{**a, "kind": "artist"} for a in info["top_artists"][:5]],
                ["kind", "rank", "track_name", "artist_name", "plays"],
            )
        )
    out.print(
        _table(
            "group top tracks",
            report["group_top_tracks"],
            ["track_name", "artist_name", "plays", "members", "top_listener"],
        )
    )
    out.print(
        _table(
            "pairwise overlap",
            report["overlap"],
            ["user_a", "user_b", "shared_tracks", "shared_artists", "track_jaccard"],
        )
    )
    out.print(_table("blend", report["blend"], ["track_name", "artist_name", "members", "score"]))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="analytics")
