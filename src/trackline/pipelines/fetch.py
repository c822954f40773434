"""Per-user fetch runs: connector -> spool (NDJSON per dataset) -> LocalEngine.ingest.

Reusing the batch engine means fetched records get the same contract validation, dedup,
landing under `raw/<dataset>/date=/run_id=/`, curated lake, warehouse and reports as files do.
Users run in parallel (one shared HTTP client bounds requests in flight); one user's failure is
recorded in their result and never stops the others. `fetch_user()` is the unit a session
worker calls.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from trackline.config import Settings
from trackline.core.http import HttpClient, MalformedResponseError, UnauthorizedError
from trackline.core.http.redact import redact
from trackline.engines.local import LocalEngine
from trackline.errors import (
    ConnectorError,
    NeedsReauthError,
    RateLimitedError,
    TracklineError,
    UsageError,
)
from trackline.sources.spool import Batch
from trackline.state.connectors import ConnectorState, Locked, open_connector_state

log = logging.getLogger(__name__)

#: provider -> module with `DATASETS`, `NEEDS_USER` and `fetch(ctx)`; one line per connector.
CONNECTORS = {
    "spotify": "trackline.sources.spotify",
    "youtube": "trackline.sources.youtube",
    "fakestore": "trackline.sources.fakestore",
}
ACCOUNTLESS_USER = "fakestore"
_INGEST_LOCK = threading.Lock()  # one DuckDB writer per process
FATAL = (NeedsReauthError, RateLimitedError, UnauthorizedError)


def connector(provider: str) -> Any:
    if provider not in CONNECTORS:
        raise UsageError(f"unknown provider {provider!r}; expected one of {', '.join(CONNECTORS)}")
    return importlib.import_module(CONNECTORS[provider])


@dataclass
class FetchContext:
    """What a connector needs for one user's run, and where it reports."""

    settings: Settings
    http: HttpClient
    state: ConnectorState | None
    provider: str
    user_id: str
    batch: Batch
    now: datetime
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cursors: dict[str, str] = field(default_factory=dict)  # committed once the batch is sealed
    endpoints: int = 0  # endpoints tried, to tell "some failed" from "all failed"
    # one entry per failed endpoint or resource, as data (the `--json` "failures" list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    # what a connector may cache for the whole run, shared by its users (public catalogue data
    # such as artists' genres, what the app may call); never anything user-specific
    shared: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def emit(self, dataset: str, records: list[dict[str, Any]]) -> None:
        if records:
            self.batch.write(dataset, records)

    def odd_entries(self, name: str, dataset: str, odd: list[Any]) -> None:
        """Entries of a page that were not objects (a `null` in `items`): each is kept as a
        record of `dataset` the contract rejects as `malformed` (its JSON text in
        `meta.rejected`), and a note names the endpoint and how many. Never dropped unseen."""
        if not odd:
            return
        self.batch.write_json(dataset, odd)
        n = len(odd)
        with self._lock:
            self.notes.append(
                f"{name}: {n} {'entry' if n == 1 else 'entries'} of a page not an object "
                f"(e.g. null), kept as rejected {dataset} records (malformed)"
            )

    def set_cursor(self, key: str, value: str) -> None:
        self.cursors[key] = value

    def get_cursor(self, key: str) -> str | None:
        return self.state.get_cursor(key) if self.state is not None else None

    @contextmanager
    def endpoint(
        self,
        name: str,
        dataset: str,
        label: str | None = None,
        hints: Mapping[int, str] | None = None,
    ) -> Iterator[None]:
        """One endpoint's work: a response that is not JSON becomes a rejected record; any
        other API failure is noted and the run goes on with the next endpoint; a failure
        that concerns the whole user (re-auth, quota) ends the run. Connectors may use it per
        resource (one playlist) so that one failure loses only that resource."""
        with self._lock:
            self.endpoints += 1
        try:
            yield
        except FATAL:
            raise
        except MalformedResponseError as exc:
            self.batch.write_malformed(dataset, exc.body)
            self.notes.append(f"{name}: a response was not JSON (kept as a rejected record)")
        except ConnectorError as exc:
            self.fail(name, exc, label, hints)

    def fail(
        self,
        name: str,
        exc: ConnectorError,
        label: str | None = None,
        hints: Mapping[int, str] | None = None,
    ) -> None:
        """Record a failed endpoint or resource. A final 4xx (a closed or missing resource, a
        removed endpoint) is `permanent`: running again will not help. Anything else reached
        here after the HTTP client's retries (5xx, timeouts) and is transient."""
        status = getattr(exc, "status", None)
        permanent = isinstance(status, int) and 400 <= status < 500
        reason = redact(str(exc))
        if hints and isinstance(status, int) and status in hints:
            reason = f"{reason} ({hints[status]})"
        shown = f"{name} ({label})" if label else name
        kind = "refused, permanent" if permanent else "transient, try again later"
        with self._lock:
            self.errors.append(f"{shown}: {reason} [{kind}]")
            self.failures.append(
                {"endpoint": name, "name": label, "http_status": status,
                 "permanent": permanent, "reason": reason}
            )  # fmt: skip


@dataclass
class UserFetchResult:
    provider: str
    user_id: str
    # ok | partial (some endpoints failed) | error (every endpoint failed) | spooled |
    # needs_reauth | rate_limited | failed | skipped
    status: str = "ok"
    fetched: dict[str, int] = field(default_factory=dict)
    added: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    rejected_by_reason: dict[str, dict[str, int]] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)  # FetchContext.failures
    requests: int = 0
    seconds: float = 0.0
    spool: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The `--json` shape per user (public: add keys, never rename)."""
        return {
            "provider": self.provider,
            "user_id": self.user_id,
            "status": self.status,
            "fetched": self.fetched,
            "added": self.added,
            "valid": self.added,  # the name ingest and stream use (#24); `added` kept
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "rejected_by_reason": self.rejected_by_reason,
            "runs": self.runs,
            "notes": self.notes,
            "error": self.error,
            "failures": self.failures,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "spool": self.spool,
        }


def fetch_user(
    settings: Settings,
    provider: str,
    user_id: str,
    *,
    state: ConnectorState | None = None,
    http: HttpClient | None = None,
    ingest: bool = True,
    shared: dict[str, Any] | None = None,
) -> UserFetchResult:
    """Fetch one user from one provider, spool it, then ingest it. Never raises for the user's
    own failures (they are in the result); raises only for unusable calls (unknown provider)."""
    mod = connector(provider)
    own_http = http is None
    client = http or HttpClient.from_settings(settings)
    own_state = state is None and mod.NEEDS_USER
    store: ConnectorState | None = Locked(open_connector_state(settings)) if own_state else state
    result = UserFetchResult(provider, user_id)
    start = time.perf_counter()
    before = client.stats.requests
    try:
        batch = Batch.create(settings, provider, user_id)
        ctx = FetchContext(settings, client, store, provider, user_id, batch, datetime.now(UTC))
        if shared is not None:  # one run of many users (fetch_users)
            ctx.shared = shared
        _run(mod, ctx, result)
        batch.seal()
        if store is not None:
            for key, value in ctx.cursors.items():
                store.set_cursor(key, value)
        result.fetched = dict(batch.counts)
        result.notes += ctx.notes
        result.failures = list(ctx.failures)
        if ctx.errors and result.status == "ok":
            # every endpoint failed: nothing was fetched, so this is no partial success
            every = len(ctx.errors) >= ctx.endpoints
            result.status = "error" if every else "partial"
            result.error = "; ".join(ctx.errors)
        if ingest:
            ingest_batch(settings, batch, result)
    except TracklineError as exc:
        result.status, result.error = "failed", redact(str(exc))
    except Exception as exc:  # one user's bug must not stop the others; it is reported
        log.exception("fetch.user_failed provider=%s user=%s", provider, user_id)
        result.status, result.error = "failed", redact(f"{type(exc).__name__}: {exc}")
    finally:
        result.requests = client.stats.requests - before
        result.seconds = time.perf_counter() - start
        if own_http:
            client.close()
        if own_state and store is not None:
            store.close()
    log.info(
        "fetch.user provider=%s user=%s status=%s fetched=%s",
        provider,
        user_id,
        result.status,
        sum(result.fetched.values()),
    )
    return result


def _run(mod: Any, ctx: FetchContext, result: UserFetchResult) -> None:
    try:
        mod.fetch(ctx)
    except NeedsReauthError as exc:
        result.status, result.error = "needs_reauth", redact(str(exc))
    except RateLimitedError as exc:
        result.status, result.error = "rate_limited", redact(str(exc))
    except UnauthorizedError as exc:
        result.status, result.error = "failed", redact(str(exc))


def ingest_batch(settings: Settings, batch: Batch, result: UserFetchResult) -> None:
    """Run each spooled dataset file through its contract; on failure the file stays spooled."""
    for dataset, path in batch.files().items():
        try:
            with _INGEST_LOCK:
                run = LocalEngine(settings).ingest([str(path)], dataset)
        except Exception as exc:  # the lake or warehouse is unreachable: keep it spooled
            result.spool = str(batch.path)
            if result.status in ("ok", "partial"):
                result.status = "spooled"
            why = redact(str(exc) if isinstance(exc, TracklineError) else repr(exc))
            result.error = (
                f"could not write {dataset} to the lake/warehouse ({why}); the fetched records "
                "are kept in the spool: run `trackline spool flush` once it is reachable"
            )
            log.warning("fetch.spooled user=%s dataset=%s", batch.user_id, dataset)
            return
        c = run.manifest.counts
        result.runs[dataset] = run.manifest.run_id
        if run.skipped:  # these exact records were ingested before: nothing new
            result.added[dataset], result.rejected[dataset] = 0, 0
            result.duplicates[dataset] = c.input
        else:
            result.added[dataset] = c.valid
            result.rejected[dataset] = c.rejected
            result.duplicates[dataset] = c.duplicates
        if c.rejected_by_reason:
            result.rejected_by_reason[dataset] = dict(c.rejected_by_reason)
        batch.done(dataset)


@dataclass
class FetchSummary:
    provider: str
    results: list[UserFetchResult]
    seconds: float
    http: dict[str, Any]
    allow_partial: bool = False  # `--allow-partial`: some endpoints failing is not a failure

    @property
    def failed(self) -> list[UserFetchResult]:
        """Users whose fetch did not fully succeed; `partial` is a failure unless allowed."""
        good = ("ok", "partial") if self.allow_partial else ("ok",)
        return [r for r in self.results if r.status not in good]

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "users": [r.as_dict() for r in self.results],
            "ok": sum(1 for r in self.results if r.status == "ok"),
            "failed": len(self.failed),
            "partial": sum(1 for r in self.results if r.status == "partial"),
            "allow_partial": self.allow_partial,
            "seconds": round(self.seconds, 3),
            "http": self.http,
        }


def fetch_users(
    settings: Settings,
    provider: str,
    user_ids: Sequence[str] | None = None,
    *,
    state: ConnectorState | None = None,
    http: HttpClient | None = None,
    ingest: bool = True,
    on_result: Callable[[UserFetchResult], None] | None = None,
    allow_partial: bool = False,
) -> FetchSummary:
    """Fetch many users in parallel (`fetch_user_concurrency` at once); with `allow_partial`
    a user whose endpoints failed only in part does not count as failed."""
    mod = connector(provider)
    start = time.perf_counter()
    own_http = http is None
    client = http or HttpClient.from_settings(settings)
    own_state = state is None and mod.NEEDS_USER
    store: ConnectorState | None = Locked(open_connector_state(settings)) if own_state else state
    try:
        results: list[UserFetchResult] = []
        if not mod.NEEDS_USER:
            users = [ACCOUNTLESS_USER]
        elif user_ids:
            users = list(dict.fromkeys(user_ids))
            if store is not None:
                _check_known(store, users)
        else:
            assert store is not None
            users = []
            for u in store.list_users(active_only=True):
                status = getattr(u, "providers", {}).get(provider)
                if status == "connected":
                    users.append(u.user_id)
                elif status == "needs_reauth":
                    results.append(
                        UserFetchResult(
                            provider,
                            u.user_id,
                            status="needs_reauth",
                            error=f"run `trackline auth {provider} --user {u.user_id}`",
                        )
                    )
            if not users and not results:
                raise UsageError(
                    f"no users are connected to {provider}: run `trackline auth {provider}` "
                    "or `trackline users add ID --{provider}-refresh-token T`"
                )

        shared: dict[str, Any] = {}

        def one(uid: str) -> UserFetchResult:
            r = fetch_user(
                settings, provider, uid, state=store, http=client, ingest=ingest, shared=shared
            )
            if on_result is not None:
                on_result(r)
            return r

        with ThreadPoolExecutor(
            max_workers=min(settings.fetch_user_concurrency, max(1, len(users))),
            thread_name_prefix="trackline-fetch",
        ) as pool:
            results += list(pool.map(one, users))
        seconds = time.perf_counter() - start
        return FetchSummary(provider, results, seconds, client.stats.as_dict(), allow_partial)
    finally:
        if own_http:
            client.close()
        if own_state and store is not None:
            store.close()


def _check_known(store: ConnectorState, users: list[str]) -> None:
    """An unknown --user is an unusable call (exit 2), not a user whose fetch failed."""
    known = {u.user_id for u in store.list_users()}
    unknown = [u for u in users if u not in known]
    if unknown:
        raise UsageError(
            f"no user {', '.join(map(repr, unknown))}; see `trackline users list` for the ids"
        )


def flush_spool(settings: Settings) -> list[UserFetchResult]:
    """Replay every spooled batch into the lake and warehouse (idempotent)."""
    from trackline.sources.spool import pending

    results = []
    for batch in pending(settings):
        result = UserFetchResult(batch.provider, batch.user_id, fetched=dict(batch.counts))
        ingest_batch(settings, batch, result)
        results.append(result)
    return results
