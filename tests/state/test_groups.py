"""Named groups, stored as documents, and sessions created from them."""

from __future__ import annotations

import logging

import pytest

from tests.state.conftest import Backend
from trackline import sessions
from trackline.state import GroupExistsError, StateStore, UnknownGroupError, UnknownUserError
from trackline.state.groups import create_group, group_members, list_groups


def test_groups(store: StateStore) -> None:
    for u in ("alice", "bob", "carol"):
        store.add_user(u)
    create_group(store, "club", ["alice", "bob", "alice"])
    assert group_members(store, "club") == ["alice", "bob"]
    assert store.get_doc("groups", "club") is not None  # a plain document
    with pytest.raises(GroupExistsError):
        create_group(store, "club", ["carol"])
    create_group(store, "club", ["carol"], replace=True)
    create_group(store, "duo", ["alice"])
    assert [(g.name, g.user_ids) for g in list_groups(store)] == [
        ("club", ["carol"]),
        ("duo", ["alice"]),
    ]
    with pytest.raises(UnknownUserError, match="ghost"):
        create_group(store, "x", ["ghost"])
    with pytest.raises(UnknownGroupError):
        group_members(store, "nope")


def test_session_from_group_announces_it(
    backend: Backend,
    store: StateStore,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(logging.getLogger("trackline"), "propagate", True)
    for u in ("alice", "bob"):
        store.add_user(u)
    create_group(store, "club", ["alice", "bob"])
    with caplog.at_level(logging.INFO, logger="trackline"):
        s = sessions.create_session(backend.settings, store, ["bob"], ["club"])
    assert s.user_ids == ["bob", "alice"]
    assert f"session.announce session_id={s.session_id}" in caplog.text
