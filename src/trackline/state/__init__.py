"""The state store: users and their encrypted tokens, cursors, JSON documents and sessions."""

from trackline.state.base import (
    BACKENDS,
    Session,
    SessionStatus,
    SessionUser,
    StateStore,
    StatusChange,
    User,
    open_state,
    redact_uri,
)
from trackline.state.errors import (
    ExtraNotInstalledError,
    GroupExistsError,
    InvalidNameError,
    SchemaVersionError,
    SecretKeyError,
    SessionTransitionError,
    StateError,
    StateURIError,
    UnknownGroupError,
    UnknownSessionError,
    UnknownUserError,
)

__all__ = [
    "BACKENDS",
    "ExtraNotInstalledError",
    "GroupExistsError",
    "InvalidNameError",
    "SchemaVersionError",
    "SecretKeyError",
    "Session",
    "SessionStatus",
    "SessionTransitionError",
    "SessionUser",
    "StateError",
    "StateStore",
    "StateURIError",
    "StatusChange",
    "UnknownGroupError",
    "UnknownSessionError",
    "UnknownUserError",
    "User",
    "open_state",
    "redact_uri",
]
