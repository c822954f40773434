"""Announce sessions to the workers, and find the ones whose announcement was lost.

Creating a session publishes `{"session_id": ...}` on the `sessions` topic (on GCP a Cloud
Function plays this role). Each announcement is recorded in the state store (collection
`session_announcements`), so `trackline trigger` can tell what was never announced (the bus was
down when the session was created), what was announced but is still pending long after (the
message was lost or dead-lettered), and what is `running` under an expired lease (its worker
died, and a redelivery was acknowledged as "already running" meanwhile), and publish them again.
Publishing twice is harmless: the worker's claim runs a session once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from trackline.config import Settings
from trackline.errors import TracklineError
from trackline.state import Session, StateStore

log = logging.getLogger(__name__)

TOPIC = "sessions"
ANNOUNCEMENTS = "session_announcements"


class Publisher(Protocol):
    """The part of a bus the trigger needs (`trackline.bus.Bus` satisfies it)."""

    def publish(
        self,
        topic: str,
        data: bytes,
        attributes: dict[str, str] | None = None,
        ordering_key: str | None = None,
    ) -> str: ...

    def close(self) -> None: ...


def open_publisher(settings: Settings) -> Publisher:
    """The configured bus (`TRACKLINE_BUS_URI`, default the embedded log under the home)."""
    from trackline.bus.base import open_bus

    bus: Publisher = open_bus(None, settings)
    return bus


def message(session_id: str) -> tuple[bytes, dict[str, str]]:
    """The announcement: data `{"session_id": ...}` and the id as an attribute (for filters)."""
    return json.dumps({"session_id": session_id}).encode(), {"session_id": session_id}


class BadMessageError(TracklineError):
    """A sessions-topic message (or its push envelope) is not `{"session_id": "..."}`."""


def parse(data: bytes) -> str:
    """The session id from a message's data, or BadMessageError saying what is off."""
    try:
        decoded = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise BadMessageError('the data is not JSON (expected {"session_id": "..."})') from None
    sid = decoded.get("session_id") if isinstance(decoded, dict) else None
    if not isinstance(sid, str) or not sid.strip() or len(sid) > 200:
        raise BadMessageError(
            'the data has no "session_id" string (expected {"session_id": "..."})'
        )
    return sid.strip()


def announce(
    store: StateStore, publisher: Publisher, session_id: str, *, reason: str = "created"
) -> str:
    """Publish one session's message and record that it was published; returns the message id."""
    data, attributes = message(session_id)
    message_id = publisher.publish(TOPIC, data, attributes, ordering_key=session_id)
    previous = store.get_doc(ANNOUNCEMENTS, session_id) or {}
    store.put_doc(
        ANNOUNCEMENTS,
        session_id,
        {
            "published_at": datetime.now(UTC).isoformat(),
            "message_id": message_id,
            "count": int(previous.get("count", 0)) + 1,
            "reason": reason,
        },
    )
    log.info(
        "session.announce session_id=%s message_id=%s reason=%s", session_id, message_id, reason
    )
    return message_id


@dataclass(frozen=True)
class Lost:
    session_id: str
    status: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "status": self.status, "reason": self.reason}


def find_lost(store: StateStore, after_seconds: float, now: datetime | None = None) -> list[Lost]:
    """Sessions a worker should have picked up by now, oldest first."""
    now = now or datetime.now(UTC)
    docs = store.list_docs(ANNOUNCEMENTS)
    found: list[Lost] = []
    for s in sorted(store.list_sessions("pending"), key=lambda s: s.created_at):
        doc = docs.get(s.session_id)
        if doc is None:
            found.append(Lost(s.session_id, s.status, "never announced"))
            continue
        at = datetime.fromisoformat(doc["published_at"])
        if now - at >= timedelta(seconds=after_seconds):
            age = int((now - at).total_seconds())
            found.append(Lost(s.session_id, s.status, f"still pending {age}s after its message"))
    for s in sorted(store.list_sessions("running"), key=lambda s: s.created_at):
        if s.lease_until is not None and s.lease_until <= now:
            found.append(Lost(s.session_id, s.status, f"the lease of worker {s.worker_id} expired"))
    return found


def trigger(
    store: StateStore, publisher: Publisher, after_seconds: float, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Publish every lost session again; returns what was published and why."""
    published = []
    for lost in find_lost(store, after_seconds, now):
        message_id = announce(store, publisher, lost.session_id, reason=lost.reason)
        published.append({**lost.as_dict(), "message_id": message_id})
    return published


def on_created(settings: Settings, store: StateStore, session: Session) -> str | None:
    """Announce a new session; a bus that is down does not undo the session (the trigger
    announces it later), so this logs the failure instead of raising."""
    try:
        publisher = open_publisher(settings)
    except Exception as exc:
        log.warning(
            "session.announce_failed session_id=%s error=%s next='trackline trigger'",
            session.session_id,
            exc,
        )
        return None
    try:
        return announce(store, publisher, session.session_id)
    except Exception as exc:
        log.warning(
            "session.announce_failed session_id=%s error=%s next='trackline trigger'",
            session.session_id,
            exc,
        )
        return None
    finally:
        publisher.close()
