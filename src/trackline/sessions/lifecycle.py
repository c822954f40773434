"""Session lifecycle hooks that sit above the state store (the store only records facts).

`on_session_created` announces a new session: it publishes `{"session_id": ...}` on the bus's
`sessions` topic (the role a Cloud Function plays on GCP) and records the announcement, so
`trackline trigger` can find sessions whose message never went out (`trackline.sessions.trigger`).
"""

from __future__ import annotations

from trackline.config import Settings
from trackline.sessions import trigger
from trackline.state import Session, StateStore
from trackline.state.groups import group_members


def on_session_created(settings: Settings, store: StateStore, session: Session) -> str | None:
    """Announce a new session; returns the message id, or None when the bus was unreachable
    (the session stays pending and `trackline trigger` announces it later)."""
    return trigger.on_created(settings, store, session)


def create_session(
    settings: Settings,
    store: StateStore,
    user_ids: list[str],
    groups: list[str] | None = None,
) -> Session:
    """Create a session for the users (and every member of the named groups), then announce it."""
    ids = list(user_ids)
    for name in groups or []:
        ids.extend(group_members(store, name))
    session = store.create_session(ids)
    on_session_created(settings, store, session)
    return session
