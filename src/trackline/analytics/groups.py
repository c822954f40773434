"""Named groups of listeners: who is in a group.

For now a group lives in the warehouse table `meta.groups` (group_id, user_id), which the dbt
mart `group_overlap` also reads. Everything else resolves a group through `members`, so the
group's home can move (to the state store) by changing this module alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from trackline.config import Settings
from trackline.errors import UsageError
from trackline.models.sources import GROUPS_DDL
from trackline.warehouse.duckdb import DuckDBWarehouse


def _warehouse(settings: Settings) -> DuckDBWarehouse:
    settings.ensure_home()
    wh = DuckDBWarehouse(settings.warehouse, settings)
    wh.con.execute(GROUPS_DDL)
    return wh


def members(settings: Settings, group: str) -> list[str]:
    """The group's user ids, sorted; a UsageError when the group has none."""
    wh = _warehouse(settings)
    try:
        rows = wh.con.execute(
            "SELECT user_id FROM meta.groups WHERE group_id = ? ORDER BY user_id", [group]
        ).fetchall()
    finally:
        wh.close()
    if not rows:
        raise UsageError(
            f"no group named {group!r} (or it has no members); create it with "
            "`trackline groups create NAME --user U...`, or pass the members with --user"
        )
    return [str(r[0]) for r in rows]


def set_members(settings: Settings, group: str, users: Sequence[str]) -> None:
    """Replace the group's members (used by `groups create` and by tests)."""
    if not group.strip() or not users:
        raise UsageError("a group needs a name and at least one --user")
    wh = _warehouse(settings)
    try:
        wh.con.execute("BEGIN TRANSACTION")
        wh.con.execute("DELETE FROM meta.groups WHERE group_id = ?", [group])
        wh.con.executemany(
            "INSERT INTO meta.groups (group_id, user_id) VALUES (?, ?)",
            [[group, u] for u in sorted(set(users))],
        )
        wh.con.execute("COMMIT")
    finally:
        wh.close()


def resolve(settings: Settings, group: str | None, users: Sequence[str] | None) -> list[str]:
    """Members from --user when given, else from the named group."""
    if users:
        return sorted(set(users))
    if group:
        return members(settings, group)
    raise UsageError("name a group with --group G or its members with --user U (repeatable)")
