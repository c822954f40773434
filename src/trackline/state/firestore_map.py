"""Pure mapping between trackline records and Firestore documents (no client needed).

Kept apart from the client code so it is tested without a server: URI parsing, document ids
that Firestore accepts for any key, and the user/session document shapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from trackline.state.base import Session, SessionUser, StatusChange, User
from trackline.state.errors import StateURIError

_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_DATABASE = re.compile(r"^(\(default\)|[a-z][a-z0-9-]{2,61}[a-z0-9])$")
_PREFIX = re.compile(r"^[A-Za-z0-9_]{0,40}$")


@dataclass(frozen=True)
class FirestoreTarget:
    project: str
    database: str = "(default)"
    prefix: str = "trackline_"  # collection name prefix, so one database can hold several

    def collection(self, name: str) -> str:
        return f"{self.prefix}{name}"


def parse_uri(uri: str) -> FirestoreTarget:
    """`firestore://PROJECT[/DATABASE][?prefix=NAME_]`."""
    parts = urlsplit(uri)
    project = parts.netloc
    database = parts.path.strip("/") or "(default)"
    usage = "use firestore://PROJECT[/DATABASE][?prefix=NAME_]"
    if parts.scheme != "firestore" or not _PROJECT.match(project):
        raise StateURIError(f"invalid Firestore state URI {uri!r}: {usage} (a GCP project id)")
    if not _DATABASE.match(database):
        raise StateURIError(f"invalid Firestore database {database!r} in {uri!r}: {usage}")
    prefix = dict(parse_qsl(parts.query)).get("prefix", "trackline_")
    if not _PREFIX.match(prefix):
        raise StateURIError(f"invalid prefix {prefix!r}: letters, digits and '_' only")
    return FirestoreTarget(project, database, prefix)


def doc_id(key: str) -> str:
    """A Firestore document id for any key: no '/', not '.' or '..', not `__x__`."""
    encoded = quote(key, safe="")
    if encoded in (".", ".."):
        return encoded.replace(".", "%2E")
    if encoded.startswith("__") and encoded.endswith("__"):
        return "%5F" + encoded[1:]
    return encoded


def key_from_doc_id(value: str) -> str:
    return unquote(value)


def user_to_doc(user: User, tokens: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "user_id": user.user_id,
        "is_active": user.is_active,
        "last_active": user.last_active,
        "created_at": user.created_at,
        "tokens": tokens or {},
    }


def user_from_doc(data: dict[str, Any]) -> User:
    tokens: dict[str, dict[str, Any]] = data.get("tokens") or {}
    return User(
        user_id=data["user_id"],
        is_active=bool(data.get("is_active", True)),
        last_active=data.get("last_active"),
        created_at=data["created_at"],
        providers={p: str(t["status"]) for p, t in sorted(tokens.items())},
        reauth_reasons={
            p: str(t["reason"])
            for p, t in sorted(tokens.items())
            if t.get("status") == "needs_reauth" and t.get("reason")
        },
    )


def session_to_doc(session: Session) -> dict[str, Any]:
    return {
        "session_id": session.session_id,
        "status": session.status,
        "user_ids": session.user_ids,
        "created_at": session.created_at,
        "updated_at": session.updated_at,
        "error": session.error,
        "run_ids": list(session.run_ids),
        "outcomes": dict(session.outcomes),
        "timeline": [
            {"status": c.status, "at": c.at, "message": c.message, "worker_id": c.worker_id}
            for c in session.timeline
        ],
        "worker_id": session.worker_id,
        "lease_until": session.lease_until,
        "attempts": session.attempts,
    }


def session_from_doc(
    data: dict[str, Any], members: dict[str, tuple[bool, datetime | None]]
) -> Session:
    """`members`: user_id -> (is_active, last_active) read from the users collection now."""
    return Session(
        session_id=data["session_id"],
        status=data["status"],
        users=tuple(
            SessionUser(uid, *members.get(uid, (False, None))) for uid in data.get("user_ids", [])
        ),
        created_at=data["created_at"],
        updated_at=data["updated_at"],
        error=data.get("error"),
        run_ids=tuple(data.get("run_ids") or ()),
        outcomes={k: dict(v) for k, v in (data.get("outcomes") or {}).items()},
        timeline=tuple(
            StatusChange(c["status"], c["at"], c.get("message"), c.get("worker_id"))
            for c in data.get("timeline") or ()
        ),
        worker_id=data.get("worker_id"),
        lease_until=data.get("lease_until"),
        attempts=int(data.get("attempts") or 0),
    )
