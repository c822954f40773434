"""Typed errors of the state store. Messages say what to do next and never carry a secret."""

from __future__ import annotations

from trackline.errors import ConfigError, TracklineError, UsageError

# One class for every missing extra (trackline.errors), re-exported for the state package.
from trackline.errors import ExtraNotInstalledError as ExtraNotInstalledError


class StateError(TracklineError):
    """The state store cannot do what was asked (unreachable, corrupt, wrong version)."""


class StateURIError(ConfigError):
    """The state URI is malformed or names a backend trackline does not have."""


class SchemaVersionError(StateError):
    """The store was written by a newer trackline: its schema is ahead of this code."""


class SecretKeyError(TracklineError):
    """The secret key is malformed, or differs from the key the tokens were encrypted with."""


class TokenBindingError(SecretKeyError):
    """A stored token was encrypted for another user or provider (its row was swapped)."""


class UnknownUserError(UsageError):
    """No user has the given id."""


class UnknownSessionError(UsageError):
    """No session has the given id."""


class UnknownGroupError(UsageError):
    """No group has the given name."""


class GroupExistsError(UsageError):
    """A group with that name exists already."""


class InvalidNameError(UsageError):
    """An id, provider, collection or group name has characters the store does not accept."""


class SessionTransitionError(TracklineError):
    """A session status change that the session model does not allow (e.g. done -> running)."""
