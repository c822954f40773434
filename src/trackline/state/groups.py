"""Named groups of users (a listening club, a party), kept as documents in collection "groups".

A group is a saved list of members, so `trackline sessions create --group NAME` does not need
every id again. Members must exist when the group is created.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trackline.errors import UsageError
from trackline.state.base import StateStore, utcnow
from trackline.state.errors import (
    GroupExistsError,
    InvalidNameError,
    UnknownGroupError,
    UnknownUserError,
)

COLLECTION = "groups"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")


@dataclass(frozen=True)
class Group:
    name: str
    user_ids: list[str]
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "user_ids": list(self.user_ids), "created_at": self.created_at}


def create_group(
    store: StateStore, name: str, user_ids: list[str], *, replace: bool = False
) -> Group:
    if not _NAME.match(name):
        raise InvalidNameError(
            f"invalid group name {name!r}: 1-100 letters, digits, spaces, '.', '_' or '-'"
        )
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        raise UsageError("a group needs at least one member (--user ID)")
    missing = [u for u in ids if store.get_user(u) is None]
    if missing:
        raise UnknownUserError(
            f"unknown user(s) {', '.join(missing)}: add them first with `trackline users add ID`"
        )
    if not replace and store.get_doc(COLLECTION, name) is not None:
        raise GroupExistsError(f"group {name!r} exists already; pick another name")
    created: datetime = utcnow()
    group = Group(name, ids, created.isoformat())
    store.put_doc(COLLECTION, name, group.to_dict())
    return group


def list_groups(store: StateStore) -> list[Group]:
    return [
        Group(name, list(d.get("user_ids", [])), str(d.get("created_at", "")))
        for name, d in store.list_docs(COLLECTION).items()
    ]


def group_members(store: StateStore, name: str) -> list[str]:
    doc = store.get_doc(COLLECTION, name)
    if doc is None:
        raise UnknownGroupError(f"no group {name!r}; see `trackline groups list`")
    return list(doc.get("user_ids", []))
