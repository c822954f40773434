"""What a session worker asks of a per-user pipeline, and the registry of pipelines.

The worker does not know where a member's data comes from: it calls a `UserPipeline` for each
active member and records the `UserOutcome`. `connectors` (the default) fetches the member's
connected accounts from the APIs and ingests them; `generated` ingests generated plays, for
trying the worker without any API. Adding a pipeline is one module and one registry line.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from trackline.config import Settings
from trackline.errors import ConfigError
from trackline.state import StateStore

#: Per-user statuses, from best to worst. Only the first three count as "data was handled".
OK_STATUSES = ("ok", "partial", "no_valid_rows", "empty")
USER_STATUSES = (
    *OK_STATUSES,
    "needs_reauth",  # a refresh token was refused (invalid_grant): the member must re-authorise
    "no_accounts",  # the member connected no provider
    "api_unavailable",  # the API failed after retries (an outage)
    "rate_limited",  # a quota is spent
    "failed",  # anything else; `message` says what
)


@dataclass
class UserOutcome:
    """One member's result in a session; `as_dict` is what the state store keeps."""

    user_id: str
    status: str
    message: str = ""
    runs: dict[str, str] = field(default_factory=dict)  # "<provider>/<dataset>" -> run id
    added: int = 0
    rejected: int = 0
    duplicates: int = 0
    requests: int = 0
    http_seconds: float = 0.0  # time spent waiting on HTTP responses
    seconds: float = 0.0
    providers: dict[str, str] = field(default_factory=dict)  # provider -> its status
    # what failed without failing the member: {"provider", "endpoint", "name", "http_status",
    # "permanent", "reason"} (a closed playlist, a removed endpoint, an outage after retries)
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def handled(self) -> bool:
        return self.status in OK_STATUSES

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "message": self.message,
            "runs": self.runs,
            "added": self.added,
            "valid": self.added,  # the name ingest and stream use (#24); `added` kept
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "requests": self.requests,
            "http_seconds": round(self.http_seconds, 3),
            "seconds": round(self.seconds, 3),
            "providers": self.providers,
            "failures": self.failures,
        }


class UserPipeline(Protocol):
    """Fetch and ingest one member's data. Must not raise for the member's own failures
    (a refused token, an outage): those are outcomes. Must be idempotent: a session that is
    run again after a crash calls it again for the same member."""

    def __call__(self, settings: Settings, store: StateStore, user_id: str) -> UserOutcome: ...


PIPELINES: dict[str, str] = {
    "connectors": "trackline.pipelines.connectors:ConnectorsPipeline",
    "generated": "trackline.pipelines.generated:GeneratedPipeline",
}


def open_pipeline(settings: Settings, name: str | None = None) -> UserPipeline:
    """The pipeline named by `name` or `settings.worker_pipeline`."""
    key = name or settings.worker_pipeline
    target = PIPELINES.get(key)
    if target is None:
        raise ConfigError(
            f"unknown worker pipeline {key!r}; use one of {', '.join(sorted(PIPELINES))} "
            "(TRACKLINE_WORKER_PIPELINE)"
        )
    module, attr = target.split(":")
    factory = getattr(importlib.import_module(module), attr)
    pipeline: UserPipeline = factory(settings)
    return pipeline
