"""Session lifecycle hooks that sit above the state store (the store only records facts).

`on_session_created` is where creating a session announces it: it will publish
`{"session_id": ...}` on the bus's `sessions` topic (the role a Cloud Function plays on GCP).
Until the bus is wired in, it only logs, so a worker has to find pending sessions itself.
"""

from __future__ import annotations

import logging

from trackline.config import Settings
from trackline.state import Session, StateStore
from trackline.state.groups import group_members

log = logging.getLogger(__name__)


def on_session_created(settings: Settings, session: Session) -> None:
    """Announce a new session. TODO(bus): publish {"session_id": id} on topic `sessions`."""
    log.info(
        "session.announce session_id=%s users=%d published=false reason='bus not wired yet'",
        session.session_id,
        len(session.users),
    )


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
    on_session_created(settings, session)
    return session
