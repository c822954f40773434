"""Who is in a group: a named group or a session's members, from the state store.

The state store owns groups (`trackline groups create`) and sessions (`trackline sessions
create`). The warehouse keeps a copy in `meta.groups` (group_id, user_id) because the dbt mart
`group_overlap` joins on it: `sync` refreshes that copy before models run (on BigQuery the
table `meta_groups`, `warehouse/bigquery_groups.py`). A group that exists only in
`meta.groups` (written with `set_members`, e.g. by a script) still resolves.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from trackline.config import Settings
from trackline.errors import UsageError
from trackline.state import open_state
from trackline.state.groups import list_groups
from trackline.warehouse.duckdb import GROUPS_DDL, DuckDBWarehouse

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)


def _warehouse(settings: Settings) -> DuckDBWarehouse:
    settings.ensure_home()
    wh = DuckDBWarehouse(settings.warehouse, settings)
    wh.con.execute(GROUPS_DDL)
    return wh


def _from_state(settings: Settings, group: str) -> list[str] | None:
    store = open_state(settings)
    try:
        doc = store.get_doc("groups", group)
        if doc is not None:
            return sorted(set(doc.get("user_ids", [])))
        session = store.get_session(group)
        if session is not None:
            return sorted(set(session.user_ids))
        return None
    finally:
        store.close()


def members(settings: Settings, group: str) -> list[str]:
    """The group's user ids, sorted: a named group, else a session id, else `meta.groups`."""
    found = _from_state(settings, group)
    if found:
        return found
    if settings.warehouse_kind == "bigquery":
        from trackline.warehouse.bigquery_groups import read_members

        if copied := read_members(settings, group):
            return copied
        raise _unknown(group)
    wh = _warehouse(settings)
    try:
        rows = wh.con.execute(
            "SELECT user_id FROM meta.groups WHERE group_id = ? ORDER BY user_id", [group]
        ).fetchall()
    finally:
        wh.close()
    if not rows:
        raise _unknown(group)
    return [str(r[0]) for r in rows]


def _unknown(group: str) -> UsageError:
    return UsageError(
        f"no group or session named {group!r} (or it has no members); create it with "
        "`trackline groups create NAME --user U...`, or pass the members with --user"
    )


def set_members(settings: Settings, group: str, users: Sequence[str]) -> None:
    """Replace a group's members in the warehouse copy only (scripts and tests)."""
    if not group.strip() or not users:
        raise UsageError("a group needs a name and at least one --user")
    _replace(settings, {group: sorted(set(users))})


def sync(settings: Settings) -> int:
    """Copy every named group and every session's members into `meta.groups`; returns how
    many groups were written. Groups that exist only in the warehouse are left alone."""
    store = open_state(settings)
    try:
        groups = {g.name: sorted(set(g.user_ids)) for g in list_groups(store)}
        for s in store.list_sessions():
            groups.setdefault(s.session_id, sorted(set(s.user_ids)))
    finally:
        store.close()
    if groups:
        _replace(settings, groups)
    log.info("groups.sync groups=%d", len(groups))
    return len(groups)


def _replace(settings: Settings, groups: dict[str, list[str]]) -> None:
    if settings.warehouse_kind == "bigquery":  # `meta_groups`: one load job and one MERGE
        from trackline.warehouse.bigquery_groups import replace_groups

        replace_groups(settings, groups)
        return
    wh = _warehouse(settings)
    try:
        wh.con.execute("BEGIN TRANSACTION")
        wh.con.executemany("DELETE FROM meta.groups WHERE group_id = ?", [[g] for g in groups])
        rows = [[g, u] for g, users in groups.items() for u in users]
        if rows:
            wh.con.executemany("INSERT INTO meta.groups (group_id, user_id) VALUES (?, ?)", rows)
        wh.con.execute("COMMIT")
    finally:
        wh.close()


def resolve(settings: Settings, group: str | None, users: Sequence[str] | None) -> list[str]:
    """Members from --user when given, else from the named group or session."""
    if users:
        return sorted(set(users))
    if group:
        return members(settings, group)
    raise UsageError("name a group with --group G or its members with --user U (repeatable)")


def require_known(settings: Settings, con: duckdb.DuckDBPyConnection, users: Sequence[str]) -> None:
    """Refuse (exit 2) a user id that nothing knows: no listening in the warehouse, in no group
    there and not in the state store's users, so a typo is not answered with an empty report."""
    from trackline.analytics.plays import activity_sql

    wanted = sorted(set(users))
    among = "user_id IN (SELECT unnest(CAST(? AS VARCHAR[])))"
    activity = activity_sql(con, min_play_ms=0)  # any listen makes a user known
    sql = f"SELECT DISTINCT user_id FROM ({activity}) WHERE {among}"
    seen = {str(r[0]) for r in con.execute(sql, [wanted]).fetchall()}
    groups = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'meta' AND table_name = 'groups'"
    ).fetchone()
    if groups and groups[0]:
        rows = con.execute(f"SELECT DISTINCT user_id FROM meta.groups WHERE {among}", [wanted])
        seen |= {str(r[0]) for r in rows.fetchall()}
    missing = [u for u in wanted if u not in seen]
    if missing:
        store = open_state(settings)
        try:
            missing = [u for u in missing if store.get_user(u) is None]
        finally:
            store.close()
    if missing:
        raise UsageError(
            f"no user {', '.join(map(repr, missing))}: no listening in the warehouse and not "
            "in `trackline users list`; list the ids with `trackline users list` or "
            '`trackline query "SELECT DISTINCT user_id FROM listens"`'
        )
