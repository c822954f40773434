"""`trackline sessions create|list|show`: listening sessions for a group of users."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trackline.cli._state import store_for, when
from trackline.cli.common import out, print_json, state
from trackline.errors import UsageError

if TYPE_CHECKING:
    from trackline.state import Session

group = typer.Typer(help="Sessions: create one for some users, list them, show one.")


@group.command("create")
def create(
    ctx: typer.Context,
    user: Annotated[
        list[str] | None, typer.Option("--user", "-u", help="A member (repeat for more).")
    ] = None,
    group_: Annotated[
        list[str] | None,
        typer.Option("--group", "-g", help="Add every member of this named group (repeatable)."),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the session as JSON.")] = False,
) -> None:
    """Create a pending session; a worker picks it up and fetches every active member."""
    if not user and not group_:
        raise UsageError("give at least one --user ID (or --group NAME)")
    from trackline import sessions

    with store_for(ctx) as (settings, store):
        session = sessions.create_session(settings, store, list(user or []), list(group_ or []))
    if json_:
        print_json(_json(session))
        return
    out.print(
        f"session {session.session_id} created ({session.status}) for "
        f"{', '.join(session.user_ids)}",
        markup=False,
    )
    out.print(f"next: trackline sessions show {session.session_id}", markup=False)


@group.command("list")
def list_sessions(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option("--status", "-s", help="pending, running, done or error.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many, newest first.")] = 50,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List sessions, newest first."""
    with store_for(ctx) as (_, store):
        found = store.list_sessions(status, limit=limit)
    if json_:
        print_json([_json(s) for s in found])
        return
    if not found:
        out.print("no sessions yet: try `trackline sessions create --user ID`", markup=False)
        return
    from rich.table import Table

    table = Table("session", "status", "users", "created (UTC)", "updated (UTC)", "error")
    for s in found:
        table.add_row(
            s.session_id,
            s.status,
            str(len(s.users)),
            when(s.created_at),
            when(s.updated_at),
            s.error or "",
        )
    out.print(table)


def _render(s: Session) -> None:
    p = out.print
    p(f"session {s.session_id}: {s.status}", markup=False)
    p(f"created {when(s.created_at)} UTC, updated {when(s.updated_at)} UTC", markup=False)
    if s.worker_id:
        lease = f", lease until {when(s.lease_until)} UTC" if s.lease_until else ""
        p(f"worker {s.worker_id}, attempts {s.attempts}{lease}", markup=False)
    if s.error:
        p(f"error: {s.error}", markup=False)
    p("users:")
    for u in s.users:
        outcome = s.outcomes.get(u.user_id)
        shown = _outcome(outcome) if outcome is not None else "no outcome yet"
        active = "active" if u.is_active else "inactive"
        p(f"  {u.user_id} ({active}, last active {when(u.last_active)}): {shown}", markup=False)
    p("run ids: " + (", ".join(s.run_ids) if s.run_ids else "none"), markup=False)
    p("timeline:")
    for at, line in _timeline(s):
        p(f"  {when(at)} {line}".rstrip(), markup=False)


def _json(session: Session) -> dict[str, Any]:
    """A session's `--json` shape: outcomes kept before `valid` was named (#24) get it too."""
    doc = session.to_dict()
    for outcome in doc.get("outcomes", {}).values():
        if isinstance(outcome, dict) and "added" in outcome:
            outcome.setdefault("valid", outcome["added"])
    return doc


def _outcome(outcome: dict[str, Any]) -> str:
    """A member's outcome in one line: status, counts, message (JSON for foreign shapes)."""
    if "status" not in outcome or "added" not in outcome:  # not the worker's shape
        return json.dumps({k: v for k, v in outcome.items() if k != "at"}, sort_keys=True)
    text = str(outcome["status"])
    text += f" (added {outcome.get('added', 0)}, rejected {outcome.get('rejected', 0)})"
    if outcome.get("message"):
        text += f": {outcome['message']}"
    return text


def _timeline(s: Session) -> list[tuple[datetime, str]]:
    """Status changes and, at the time each was recorded, every member's outcome."""
    rows: list[tuple[datetime, str]] = []
    for c in s.timeline:
        worker = f" [{c.worker_id}]" if c.worker_id else ""
        rows.append((c.at, f"{c.status}{worker} {c.message or ''}"))
    for user_id, outcome in s.outcomes.items():
        try:
            at = datetime.fromisoformat(str(outcome["at"]))
        except (KeyError, ValueError):
            continue
        rows.append((at, f"  user {user_id}: {_outcome(outcome)}"))
    return sorted(rows, key=lambda r: r[0])


@group.command("show")
def show(
    ctx: typer.Context,
    session_id: Annotated[str, typer.Argument(help="The session id.")],
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a session: status, per-user outcome, error, timestamps, run ids, timeline."""
    from trackline.state.errors import UnknownSessionError

    with store_for(ctx) as (_, store):
        found = store.get_session(session_id)
    if found is None:
        raise UnknownSessionError(
            f"no session {session_id!r}; see `trackline sessions list` for the ids"
        )
    if json_:
        print_json(_json(found))
        return
    _render(found)


@group.command("feedback")
def feedback(
    ctx: typer.Context,
    session_id: Annotated[str, typer.Argument(help="The session id.")],
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Likes, skips and dislikes of a session, per track and per member (from the warehouse)."""
    from rich.table import Table

    from trackline.warehouse.base import open_warehouse
    from trackline.warehouse.views import no_feedback, session_feedback

    settings = state(ctx).settings()
    if not settings.warehouse.exists():
        found = no_feedback(session_id)
    else:
        wh = open_warehouse(settings, read_only=True)
        try:
            found = session_feedback(wh, session_id)
        finally:
            wh.close()
    if not found["totals"]["events"]:
        _require_session(ctx, session_id)
    if json_:
        print_json(found)
        return
    t = found["totals"]
    out.print(
        f"session {session_id}: {t['events']} feedback events, {t['likes']} likes, "
        f"{t['skips']} skips, {t['dislikes']} dislikes",
        markup=False,
    )
    if not t["events"]:
        return
    for title, rows, key in (
        ("by track", found["by_track"], "track_id"),
        ("by member", found["by_member"], "user_id"),
    ):
        table = Table(key, "likes", "skips", "dislikes", "events", title=title)
        for r in rows:
            table.add_row(
                str(r[key]), str(r["likes"]), str(r["skips"]), str(r["dislikes"]), str(r["events"])
            )
        out.print(table)


def _require_session(ctx: typer.Context, session_id: str) -> None:
    """No feedback and no such session is a typo (exit 2), not an empty session."""
    from trackline.state.errors import UnknownSessionError

    with store_for(ctx) as (_, store):
        known = store.get_session(session_id) is not None
    if not known:
        raise UnknownSessionError(
            f"no session {session_id!r}; see `trackline sessions list` for the ids"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="sessions")
