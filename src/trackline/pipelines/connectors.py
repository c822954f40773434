"""The default pipeline: fetch every provider a member connected, through the connectors
(`trackline.pipelines.fetch.fetch_user`: API -> spool -> contract -> lake and warehouse).

One member's outcome merges their providers' results. A refused refresh token
(`invalid_grant`) marks that provider `needs_reauth` in the store (the connector does it) and
is the member's outcome only when no other provider of theirs worked.
"""

from __future__ import annotations

import time

from trackline.config import Settings
from trackline.core.http import HttpClient
from trackline.pipelines.base import OK_STATUSES, UserOutcome
from trackline.pipelines.fetch import UserFetchResult, fetch_user
from trackline.state import StateStore

#: What the HTTP client says when an API kept failing after its retries (an outage).
OUTAGE_HINT = "the API may be down"
#: Worst first: the member's status when no provider worked is the first one present.
_FAILURE_ORDER = ("needs_reauth", "rate_limited", "api_unavailable", "failed")


class ConnectorsPipeline:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(self, settings: Settings, store: StateStore, user_id: str) -> UserOutcome:
        start = time.perf_counter()
        user = store.get_user(user_id)
        if user is None:
            return UserOutcome(user_id, "failed", f"user {user_id!r} no longer exists")
        if not user.providers:
            return UserOutcome(
                user_id,
                "no_accounts",
                f"{user_id} connected no provider: run `trackline auth spotify --user {user_id}`",
            )
        outcome = UserOutcome(user_id, "ok")
        per: dict[str, tuple[str, str]] = {}
        client = HttpClient.from_settings(settings)  # one per member: its stats are theirs
        try:
            for provider, connected in sorted(user.providers.items()):
                if connected == "needs_reauth":
                    why = user.reauth_reasons.get(provider, "its refresh token was refused")
                    per[provider] = ("needs_reauth", _reauth(provider, user_id, why))
                    continue
                result = fetch_user(settings, provider, user_id, state=store, http=client)
                per[provider] = _classify(result)
                _add_counts(outcome, provider, result)
            outcome.requests = client.stats.requests
            outcome.http_seconds = sum(client.stats.latencies)
        finally:
            client.close()
        outcome.providers = {p: s for p, (s, _) in per.items()}
        outcome.status, outcome.message = _merge(per)
        outcome.seconds = time.perf_counter() - start
        return outcome


def _reauth(provider: str, user_id: str, why: str) -> str:
    return f"{provider}: {why}; run `trackline auth {provider} --user {user_id}`"


def _classify(r: UserFetchResult) -> tuple[str, str]:
    fetched = sum(r.fetched.values())
    added, rejected = sum(r.added.values()), sum(r.rejected.values())
    if r.status == "needs_reauth":
        return "needs_reauth", _reauth(r.provider, r.user_id, r.error or "token refused")
    if r.status == "rate_limited":
        return "rate_limited", f"{r.provider}: {r.error}"
    if r.status in ("partial", "error") and fetched == 0:
        return "api_unavailable", f"{r.provider}: {r.error}"
    if r.status == "failed" and OUTAGE_HINT in (r.error or ""):
        return "api_unavailable", f"{r.provider}: {r.error}"
    if r.status in ("failed", "spooled"):
        return "failed", f"{r.provider}: {r.error}"
    if fetched == 0:
        return "empty", f"{r.provider}: nothing new to fetch"
    if added == 0 and rejected and not sum(r.duplicates.values()):
        return "no_valid_rows", f"{r.provider}: all {rejected} fetched records were rejected"
    note = f"{r.provider}: {added} added, {rejected} rejected"
    if r.status == "partial":
        return "partial", f"{note}; some endpoints failed: {r.error}"
    return "ok", note


def _add_counts(o: UserOutcome, provider: str, r: UserFetchResult) -> None:
    for dataset, run_id in r.runs.items():
        o.runs[f"{provider}/{dataset}"] = run_id
    o.added += sum(r.added.values())
    o.rejected += sum(r.rejected.values())
    o.duplicates += sum(r.duplicates.values())
    o.failures += [{"provider": provider, **f} for f in r.failures]


def _merge(per: dict[str, tuple[str, str]]) -> tuple[str, str]:
    statuses = [s for s, _ in per.values()]
    message = "; ".join(m for _, m in per.values())
    handled = [s for s in statuses if s in OK_STATUSES]
    if handled and len(handled) == len(statuses):
        best = min(handled, key=OK_STATUSES.index)
        return best, message
    if handled:
        return "partial", message
    return next(s for s in _FAILURE_ORDER if s in statuses), message
