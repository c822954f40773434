"""Typed errors. Every message says what went wrong and what to do next.

The CLI maps `UsageError` subclasses to exit code 2 with a one-line message; anything else
that derives from `TracklineError` exits 1 with its message (a traceback only with --debug).
"""

from __future__ import annotations

from trackline.redact import redact


class TracklineError(Exception):
    """Base of all errors trackline raises on purpose."""

    exit_code = 1

    def __str__(self) -> str:
        # Every message passes the one redaction, so a URI or token in it never reaches output.
        return redact(super().__str__())


class UsageError(TracklineError):
    """The call cannot be carried out as given (unknown name, missing file, bad flag)."""

    exit_code = 2


class ConfigError(UsageError):
    """Configuration is invalid or points somewhere unusable."""


class ContractError(UsageError):
    """A contract file is invalid. Carries the file and line so the user can fix it."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        fix: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.fix = fix
        where = ""
        if path:
            where = f"{path}:{line}: " if line else f"{path}: "
        text = f"{where}{message}"
        if fix:
            text += f" (fix: {fix})"
        super().__init__(text)


class UnknownDatasetError(UsageError):
    """No contract has the requested name."""


class InputNotFoundError(UsageError):
    """An input path or glob matched nothing."""


class UnknownRunError(UsageError):
    """No run has the requested id."""


class QueryError(UsageError):
    """A query failed or tried to write to the warehouse."""


class AccountingError(TracklineError):
    """A run's counts do not add up: input != valid + rejected + duplicates. A bug: report it."""


class ConnectorError(TracklineError):
    """A REST API call failed for good (after retries); names the endpoint, never a secret."""


class RateLimitedError(ConnectorError):
    """The API refuses more calls for now (a quota is spent): the run stops, retry later."""


class NeedsReauthError(ConnectorError):
    """A user's refresh token was refused (`invalid_grant`): they must run `trackline auth`."""


class SpoolError(TracklineError):
    """Spooled fetch results could not be replayed; they stay in the spool for the next try."""


class ExtraNotInstalledError(ConfigError):
    """An optional dependency is missing; the message names the extra to install."""


class ModelError(TracklineError):
    """`trackline model` failed: a model did not build or a data test found bad rows."""


class ServingError(TracklineError):
    """The serving store could not be reached or answered with an error."""
