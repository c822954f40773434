"""`trackline users add|list|remove`: the people whose accounts trackline fetches.

Tokens given with --*-refresh-token go straight to the store, encrypted; no command prints,
logs or echoes them (listings show only each provider's status).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from trackline.cli._state import store_for, when
from trackline.cli.common import out, print_json

if TYPE_CHECKING:
    from trackline.state import User

group = typer.Typer(help="Users: add them (with existing refresh tokens), list, remove.")

PROVIDERS = ("spotify", "youtube")


def _status(user: User, provider: str) -> str:
    status = user.providers.get(provider)
    if status is None:
        return "-"
    reason = user.reauth_reasons.get(provider)
    return f"{status} ({reason})" if reason else status


@group.command("add")
def add(
    ctx: typer.Context,
    user_id: Annotated[str, typer.Argument(help="The user's id (e.g. their Spotify user id).")],
    spotify_refresh_token: Annotated[
        str | None,
        typer.Option(
            "--spotify-refresh-token",
            help="A Spotify refresh token obtained elsewhere (stored encrypted).",
            show_default=False,
        ),
    ] = None,
    youtube_refresh_token: Annotated[
        str | None,
        typer.Option(
            "--youtube-refresh-token",
            help="A Google/YouTube refresh token obtained elsewhere (stored encrypted).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Add a user (idempotent); optional tokens connect their accounts."""
    with store_for(ctx) as (_, store):
        store.add_user(user_id)
        tokens = {"spotify": spotify_refresh_token, "youtube": youtube_refresh_token}
        for provider, token in tokens.items():
            if token is not None:
                store.set_refresh_token(user_id, provider, token)
        user = store.get_user(user_id)
    assert user is not None
    status = ", ".join(f"{p}: {_status(user, p)}" for p in PROVIDERS)
    out.print(f"user {user.user_id} added ({status})", markup=False)


@group.command("list")
def list_users(
    ctx: typer.Context,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List users with each provider's status (never a token)."""
    with store_for(ctx) as (_, store):
        users = store.list_users()
    if json_:
        print_json([u.to_dict() for u in users])
        return
    if not users:
        out.print("no users yet: add one with `trackline users add ID`", markup=False)
        return
    from rich.table import Table

    others = sorted({p for u in users for p in u.providers} - set(PROVIDERS))
    table = Table("user", "active", "last active (UTC)", "created (UTC)", *PROVIDERS, *others)
    for u in users:
        table.add_row(
            u.user_id,
            "yes" if u.is_active else "no",
            when(u.last_active),
            when(u.created_at),
            *[_status(u, p) for p in (*PROVIDERS, *others)],
        )
    out.print(table)


@group.command("remove")
def remove(
    ctx: typer.Context,
    user_id: Annotated[str, typer.Argument(help="The user to remove, with their tokens.")],
) -> None:
    """Remove a user and their stored tokens."""
    from trackline.state.errors import UnknownUserError

    with store_for(ctx) as (_, store):
        if not store.remove_user(user_id):
            raise UnknownUserError(f"no user {user_id!r}; see `trackline users list`")
    out.print(f"user {user_id} removed", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="users")
