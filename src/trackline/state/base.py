"""The state store's vocabulary: records, the `StateStore` protocol, session rules, registry.

Backends live one per module and register here by URI scheme; `open_state(settings)` picks one.
The session rules (`claimable`, `check_finish`) are pure functions so every backend enforces the
same model: pending -> running -> done | error, and a running session whose lease expired
(its worker crashed) may be claimed again.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, get_args, runtime_checkable

from trackline import extras
from trackline.config import Settings
from trackline.redact import redact
from trackline.state.errors import (
    InvalidNameError,
    SessionTransitionError,
    StateURIError,
)

SessionStatus = Literal["pending", "running", "done", "error"]
SESSION_STATUSES: tuple[str, ...] = get_args(SessionStatus)
FINAL_STATUSES = ("done", "error")
ProviderStatus = Literal["connected", "needs_reauth"]

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class User:
    user_id: str
    is_active: bool
    last_active: datetime | None
    created_at: datetime
    providers: dict[str, str] = field(default_factory=dict)  # provider -> connected|needs_reauth
    reauth_reasons: dict[str, str] = field(default_factory=dict)  # provider -> reason

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = _jsonable(asdict(self))
        return out


@dataclass(frozen=True)
class SessionUser:
    """A member as seen now: `is_active`/`last_active` come from the user record."""

    user_id: str
    is_active: bool
    last_active: datetime | None


@dataclass(frozen=True)
class StatusChange:
    status: str
    at: datetime
    message: str | None = None
    worker_id: str | None = None


@dataclass(frozen=True)
class Session:
    session_id: str
    status: str
    users: tuple[SessionUser, ...]
    created_at: datetime
    updated_at: datetime
    error: str | None = None
    run_ids: tuple[str, ...] = ()
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)  # user_id -> outcome
    timeline: tuple[StatusChange, ...] = ()
    worker_id: str | None = None
    lease_until: datetime | None = None
    attempts: int = 0

    @property
    def user_ids(self) -> list[str]:
        return [u.user_id for u in self.users]

    @property
    def active_user_ids(self) -> list[str]:
        return [u.user_id for u in self.users if u.is_active]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = _jsonable(asdict(self))
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


@runtime_checkable
class StateStore(Protocol):
    """Users, encrypted tokens, cursors, JSON documents and sessions, in one place."""

    scheme: str

    def close(self) -> None: ...

    # users and tokens
    def add_user(self, user_id: str) -> User: ...
    def get_user(self, user_id: str) -> User | None: ...
    def list_users(self, *, active_only: bool = False) -> list[User]: ...
    def remove_user(self, user_id: str) -> bool: ...
    def set_active(self, user_id: str, active: bool) -> None: ...
    def touch_user(self, user_id: str, when: datetime | None = None) -> None: ...
    def set_refresh_token(self, user_id: str, provider: str, token: str) -> None: ...
    def get_refresh_token(self, user_id: str, provider: str) -> str | None: ...
    def mark_needs_reauth(self, user_id: str, provider: str, reason: str) -> None: ...

    # cursors
    def get_cursor(self, key: str) -> str | None: ...
    def set_cursor(self, key: str, value: str) -> None: ...

    # JSON documents
    def get_doc(self, collection: str, key: str) -> dict[str, Any] | None: ...
    def put_doc(self, collection: str, key: str, value: dict[str, Any]) -> None: ...
    def delete_doc(self, collection: str, key: str) -> bool: ...
    def list_docs(self, collection: str) -> dict[str, dict[str, Any]]: ...

    # sessions
    def create_session(self, user_ids: Sequence[str]) -> Session: ...
    def get_session(self, session_id: str) -> Session | None: ...
    def list_sessions(
        self, status: str | None = None, *, limit: int | None = None
    ) -> list[Session]: ...
    def claim_session(self, session_id: str, worker_id: str, lease_seconds: float) -> bool: ...
    def renew_lease(self, session_id: str, worker_id: str, lease_seconds: float) -> bool: ...
    def finish_session(
        self, session_id: str, worker_id: str, status: str, error: str | None = None
    ) -> Session: ...
    def record_user_outcome(
        self, session_id: str, user_id: str, outcome: dict[str, Any]
    ) -> None: ...
    def add_run_id(self, session_id: str, run_id: str) -> None: ...
    def session_timeline(self, session_id: str) -> list[StatusChange]: ...

    # schema
    def schema_version(self) -> int: ...


# Names ----------------------------------------------------------------------------------------
_USER_ID = re.compile(r"^[^\s/\x00-\x1f\x7f][^\s\x00-\x1f\x7f]{0,199}$")
_PROVIDER = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_COLLECTION = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$")


def check_user_id(user_id: str) -> str:
    if not isinstance(user_id, str) or not _USER_ID.match(user_id):
        raise InvalidNameError(
            f"invalid user id {user_id!r}: use 1-200 characters with no spaces or control "
            "characters, not starting with '/'"
        )
    return user_id


def check_provider(provider: str) -> str:
    if not _PROVIDER.match(provider):
        raise InvalidNameError(
            f"invalid provider {provider!r}: lower-case letters, digits and '_' (e.g. spotify)"
        )
    return provider


def check_collection(collection: str) -> str:
    if not _COLLECTION.match(collection):
        raise InvalidNameError(
            f"invalid collection {collection!r}: start with a letter; letters, digits, _ . -"
        )
    return collection


def check_key(key: str, what: str = "key") -> str:
    if not key or len(key) > 500 or any(ord(c) < 32 for c in key):
        raise InvalidNameError(f"invalid {what} {key!r}: 1-500 printable characters")
    return key


# Session rules ---------------------------------------------------------------------------------
def claimable(status: str, lease_until: datetime | None, now: datetime) -> bool:
    """A worker may take a pending session, or a running one whose lease ran out."""
    if status == "pending":
        return True
    return status == "running" and (lease_until is None or lease_until <= now)


def check_lease(lease_seconds: float) -> float:
    if not lease_seconds > 0:
        raise SessionTransitionError(f"lease_seconds must be positive, got {lease_seconds}")
    return float(lease_seconds)


def check_finish(
    session_id: str,
    current: str,
    owner: str | None,
    worker_id: str,
    status: str,
    error: str | None,
) -> None:
    """Only the worker holding a running session may end it, as done or as error-with-reason."""
    if status not in FINAL_STATUSES:
        raise SessionTransitionError(f"a session can finish as 'done' or 'error', not {status!r}")
    if status == "error" and not (error and error.strip()):
        raise SessionTransitionError("finishing a session as 'error' needs the reason")
    if status == "done" and error:
        raise SessionTransitionError("a 'done' session carries no error; finish it as 'error'")
    if current != "running":
        raise SessionTransitionError(
            f"session {session_id} is {current!r}, not 'running': it cannot become {status!r}"
        )
    if owner != worker_id:
        raise SessionTransitionError(
            f"session {session_id} is held by worker {owner!r}, not {worker_id!r}: its lease "
            "expired and another worker took it over"
        )


# Registry --------------------------------------------------------------------------------------
StoreFactory = Callable[[str, Settings], StateStore]

# scheme -> "module:function"; adding a backend is one module and one line here.
BACKENDS: dict[str, str] = {
    "sqlite": "trackline.state.sqlite:open_store",
    "postgresql": "trackline.state.postgres:open_store",
    "postgres": "trackline.state.postgres:open_store",
    "firestore": "trackline.state.firestore:open_store",
}


def redact_uri(uri: str) -> str:
    """The URI safe to log or show (the one redaction, `trackline.redact`)."""
    return redact(uri)


def open_state(settings: Settings) -> StateStore:
    """Open the store named by `settings.state_uri` (default: SQLite under the home)."""
    uri = settings.state
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    target = BACKENDS.get(scheme)
    if target is None:
        raise StateURIError(
            f"unknown state store {redact_uri(uri)!r}: the URI scheme must be one of "
            f"{', '.join(sorted(BACKENDS))} (set TRACKLINE_STATE_URI)"
        )
    module_name, func = target.split(":")
    module = importlib.import_module(module_name)
    factory: StoreFactory = getattr(module, func)
    return factory(uri, settings)


def require_extra(module: str, extra: str) -> Any:
    """Import an optional dependency or say which extra installs it."""
    return extras.require_extra(module, extra, "this state store")
