"""The scheduled flow's steps as plain functions: what the Airflow DAG's tasks and the Dagster
assets call (docs/orchestrate.md). No orchestrator is imported here.

    plan ─► fetch (one per provider and member) ─► ingest ─► model ─► analytics ─► quality gate

Every step takes `Settings` and returns a small JSON-ready dict (it travels through XCom or
Dagster metadata). A step that fails raises a `TracklineError` whose message says what to do;
`StepFailed.permanent` tells an orchestrator that running it again cannot help (a refused
refresh token), so it fails without retrying.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from trackline.config import Settings
from trackline.errors import ModelError, TracklineError

log = logging.getLogger(__name__)

#: A member's fetch statuses that let the flow go on (a `partial` names its failures).
FETCH_OK = ("ok", "partial")
#: Statuses a retry cannot fix: the member must act (re-authorise, connect an account).
PERMANENT = ("needs_reauth", "no_accounts")


class StepFailed(TracklineError):
    """A step of the flow failed; `permanent` when retrying it cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class QualityGateError(TracklineError):
    """A dataset's rejected share is over `quality_max_rejected_share`, or its counts are off."""


def plan_fetches(settings: Settings, group: str) -> list[dict[str, str]]:
    """One `{"provider", "user_id"}` per active member of `group` and provider they connected
    (a provider marked `needs_reauth` included: its fetch then fails, visibly, on its own)."""
    from trackline.state import open_state
    from trackline.state.groups import group_members

    store = open_state(settings)
    try:
        specs = []
        for uid in group_members(store, group):
            user = store.get_user(uid)
            if user is None or not user.is_active:
                continue
            for provider in sorted(user.providers):
                specs.append({"provider": provider, "user_id": uid})
    finally:
        store.close()
    log.info("flow.plan group=%s fetches=%d", group, len(specs))
    return specs


def fetch(settings: Settings, provider: str, user_id: str) -> dict[str, Any]:
    """Fetch one member from one provider into the spool (the ingest step loads it).
    Raises `StepFailed` unless the fetch was `ok` or `partial`."""
    from trackline.pipelines.fetch import fetch_user

    result = fetch_user(settings, provider, user_id, ingest=False)
    if result.status not in FETCH_OK:
        raise StepFailed(
            f"{provider} fetch of {user_id} ended {result.status}: {result.error or 'no reason'}",
            permanent=result.status in PERMANENT,
        )
    return {
        "provider": provider,
        "user_id": user_id,
        "status": result.status,
        "fetched": dict(result.fetched),
        "failures": list(result.failures),
        "requests": result.requests,
    }


def ingest(settings: Settings, fetched: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Ingest what the successful fetches spooled: one run per dataset over every member's
    file, so each dataset gets one run id and one manifest. Spooled batches of the same
    members left by an earlier run (a lake outage) go in too; a failed member's batch stays
    spooled until their fetch succeeds or `trackline spool flush`. Returns dataset -> run."""
    from trackline.engines.local import LocalEngine
    from trackline.sources.spool import Batch, pending

    members = {(f["provider"], f["user_id"]) for f in fetched}
    files: dict[str, list[tuple[Batch, Path]]] = defaultdict(list)
    for batch in pending(settings):
        if (batch.provider, batch.user_id) in members:
            for dataset, path in batch.files().items():
                files[dataset].append((batch, path))
    engine = LocalEngine(settings)
    runs: dict[str, dict[str, Any]] = {}
    for dataset in sorted(files):
        items = files[dataset]
        result = engine.ingest([str(p) for _, p in items], dataset)
        for batch, _ in items:
            batch.done(dataset)
        c = result.manifest.counts
        runs[dataset] = {
            "run_id": result.manifest.run_id,
            "skipped": result.skipped,
            "input": c.input,
            "valid": c.valid,
            "rejected": c.rejected,
            "duplicates": c.duplicates,
        }
        log.info(
            "flow.ingest dataset=%s run_id=%s files=%d",
            dataset,
            runs[dataset]["run_id"],
            len(items),
        )
    return runs


def model(settings: Settings, select: list[str] | None = None) -> dict[str, Any]:
    """Build the dbt models (bronze -> silver -> gold, marts) and run their tests."""
    from trackline.models import runner

    run = runner.build(settings, select or [])
    summary = run.summary()
    if not run.ok:
        names = ", ".join(f"{n.name} ({n.status})" for n in run.failed[:5])
        raise ModelError(
            f"{len(run.failed)} models or tests failed: {names}; see the dbt log under "
            "<home>/dbt/logs"
        )
    summary.pop("nodes", None)
    return summary


def analytics(settings: Settings, group: str, day: date | None = None) -> dict[str, Any]:
    """The group's listening report and a day's aggregates into the serving store."""
    from trackline.analytics.group_listening import analyse_group
    from trackline.analytics.members import members
    from trackline.serving.aggregate import aggregate_day

    users = members(settings, group)
    report = analyse_group(settings, users, top_n=10)
    aggregates = aggregate_day(settings, day)
    top = [str(t.get("track_name")) for t in report.get("group_top_tracks", [])[:3]]
    return {
        "group": group,
        "members": users,
        "plays": {u: int(info["plays"]) for u, info in report["per_member"].items()},
        "group_top_tracks": top,
        "aggregates_written": int(aggregates["written"]),
        "aggregates_date": str(aggregates["date"]),
    }


def quality_gate(
    settings: Settings, runs: dict[str, dict[str, Any]], threshold: float | None = None
) -> dict[str, dict[str, Any]]:
    """Read each run's manifest back from the warehouse and fail when a dataset's rejected
    share passes `threshold` (default `quality_max_rejected_share`) or its counts do not add
    up. Returns dataset -> {run_id, input, rejected, rejected_share}."""
    from trackline.runs.history import get_manifest

    limit = settings.quality_max_rejected_share if threshold is None else threshold
    shares: dict[str, dict[str, Any]] = {}
    failing: list[str] = []
    for dataset, info in sorted(runs.items()):
        c = get_manifest(settings, str(info["run_id"])).counts
        if c.input != c.valid + c.rejected + c.duplicates:
            failing.append(f"{dataset} counts do not add up (run {info['run_id']})")
        share = c.rejected / c.input if c.input else 0.0
        shares[dataset] = {
            "run_id": info["run_id"],
            "input": c.input,
            "rejected": c.rejected,
            "rejected_share": round(share, 6),
        }
        if share > limit:
            failing.append(
                f"{dataset} rejected {c.rejected} of {c.input} rows ({share:.1%} > {limit:.1%}; "
                f"see `trackline report {info['run_id']}`)"
            )
    if failing:
        raise QualityGateError("quality gate failed: " + "; ".join(failing))
    return shares
