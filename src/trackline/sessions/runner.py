"""Run one session: claim it, run every active member's pipeline in parallel, record, finish.

This is the whole of the worker's logic; the HTTP push endpoint (`trackline.web.push`) and
the pull loop (`trackline.sessions.pull`) are two ways of handing it a session id. The state store's
lease makes it safe to call for the same session any number of times, from any number of
workers: only the claim winner runs it; while it runs, a heartbeat renews the lease, so a
session whose worker died becomes claimable again once the lease runs out.

Each member's outcome and run ids are written to the store as soon as that member is done, so
a crash loses no more than the members in flight; a rerun calls their pipelines again, and the
pipelines are idempotent (same records -> nothing added twice).
"""

from __future__ import annotations

import contextvars
import logging
import os
import socket
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from trackline.config import Settings
from trackline.core.logctx import session_context
from trackline.pipelines.base import UserOutcome, UserPipeline, open_pipeline
from trackline.state import SessionTransitionError, StateStore, redact_uri

log = logging.getLogger(__name__)

#: What `run_session` can report. The first five mean "nothing left to do for this delivery"
#: (acknowledge it); `unknown` means the id names no session in this store.
RESULTS = ("done", "error", "already_running", "already_finished", "lost_lease", "unknown")


@dataclass
class SessionRun:
    session_id: str
    result: str
    message: str
    status: str | None = None  # the session's status afterwards
    outcomes: dict[str, UserOutcome] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ran(self) -> bool:
        """True when this call did the work (it won the claim)."""
        return self.result in ("done", "error", "lost_lease")

    def as_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "result": self.result,
            "status": self.status,
            "message": self.message,
            "users": {u: o.as_dict() for u, o in self.outcomes.items()},
            "seconds": round(self.seconds, 3),
        }


def default_worker_id() -> str:
    """host:pid, so the timeline says which machine and process ran a session."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_session(
    settings: Settings,
    store: StateStore,
    session_id: str,
    worker_id: str,
    *,
    pipeline: UserPipeline | None = None,
    lease_seconds: float | None = None,
) -> SessionRun:
    """Run the session if this worker can claim it; otherwise say why not (never raises for
    the session's own failures, only when the state store itself fails)."""
    start = time.perf_counter()
    lease = lease_seconds or settings.worker_lease_seconds
    with session_context(session_id):
        run = _run(settings, store, session_id, worker_id, pipeline, lease)
    run.seconds = time.perf_counter() - start
    log.info(
        "session.result session_id=%s result=%s status=%s seconds=%.3f",
        session_id,
        run.result,
        run.status,
        run.seconds,
    )
    return run


def _run(
    settings: Settings,
    store: StateStore,
    session_id: str,
    worker_id: str,
    pipeline: UserPipeline | None,
    lease: float,
) -> SessionRun:
    session = store.get_session(session_id)
    if session is None:
        return SessionRun(
            session_id,
            "unknown",
            f"no session {session_id!r} in the state store {redact_uri(settings.state)}: "
            "was it created against another store (TRACKLINE_STATE_URI)?",
        )
    if session.status in ("done", "error"):
        return _not_claimed(session_id, session.status, session.worker_id)
    if not store.claim_session(session_id, worker_id, lease):
        now = store.get_session(session_id)
        return _not_claimed(
            session_id, now.status if now else "running", now.worker_id if now else None
        )
    log.info("session.start session_id=%s worker_id=%s", session_id, worker_id)
    with _Heartbeat(store, session_id, worker_id, lease):
        session = store.get_session(session_id)
        assert session is not None
        active = session.active_user_ids
        if not active:
            names = ", ".join(session.user_ids) or "none"
            status = "error"
            message = (
                f"no active members (members: {names}); activate a member or create the "
                "session again with active users"
            )
            outcomes: dict[str, UserOutcome] = {}
        else:
            pipe = pipeline or open_pipeline(settings)
            outcomes = _run_users(settings, store, session_id, active, pipe)
            status, message = summarise(outcomes)
    try:
        store.finish_session(session_id, worker_id, status, message if status == "error" else None)
    except SessionTransitionError as exc:
        log.warning("session.lost_lease session_id=%s worker_id=%s", session_id, worker_id)
        return SessionRun(session_id, "lost_lease", str(exc), "running", outcomes)
    return SessionRun(session_id, status, message, status, outcomes)


def _not_claimed(session_id: str, status: str, owner: str | None) -> SessionRun:
    if status in ("done", "error"):
        return SessionRun(
            session_id, "already_finished", f"session {session_id} is {status} already", status
        )
    return SessionRun(
        session_id,
        "already_running",
        f"session {session_id} is running on worker {owner} (its lease has not expired)",
        status,
    )


def _run_users(
    settings: Settings,
    store: StateStore,
    session_id: str,
    users: list[str],
    pipeline: UserPipeline,
) -> dict[str, UserOutcome]:
    """Every member's pipeline in a bounded pool; outcomes recorded as each one finishes."""
    outcomes: dict[str, UserOutcome] = {}
    threads = min(settings.worker_user_concurrency, len(users))
    with ThreadPoolExecutor(threads, thread_name_prefix="trackline-session") as pool:
        futures: dict[Future[UserOutcome], str] = {
            pool.submit(contextvars.copy_context().run, _one, settings, store, uid, pipeline): uid
            for uid in users
        }
        for fut in as_completed(futures):
            uid = futures[fut]
            outcome = fut.result()
            outcomes[uid] = outcome
            record = {**outcome.as_dict(), "at": datetime.now(UTC).isoformat()}
            store.record_user_outcome(session_id, uid, record)
            for run_id in outcome.runs.values():
                store.add_run_id(session_id, run_id)
            log.info(
                "session.user session_id=%s user=%s status=%s added=%d rejected=%d",
                session_id,
                uid,
                outcome.status,
                outcome.added,
                outcome.rejected,
            )
    return {u: outcomes[u] for u in users}


def _one(settings: Settings, store: StateStore, user_id: str, pipe: UserPipeline) -> UserOutcome:
    start = time.perf_counter()
    try:
        outcome = pipe(settings, store, user_id)
    except Exception as exc:  # one member's bug must not stop the others; it is reported
        log.exception("session.user_crashed user=%s", user_id)
        outcome = UserOutcome(user_id, "failed", f"unexpected {type(exc).__name__}: {exc}")
    if not outcome.seconds:
        outcome.seconds = time.perf_counter() - start
    return outcome


def summarise(outcomes: dict[str, UserOutcome]) -> tuple[str, str]:
    """The session's status and a message a person can act on.

    `done` when at least one member's data was handled (fetched and validated, even if every
    row was rejected: rejected rows are data, kept with their reasons); `error` when nothing
    could be done for anyone, with the reason per kind of failure.
    """
    counts = Counter(o.status for o in outcomes.values())
    parts = [f"{n} {status}" for status, n in sorted(counts.items())]
    added = sum(o.added for o in outcomes.values())
    rejected = sum(o.rejected for o in outcomes.values())
    handled = [o for o in outcomes.values() if o.handled]
    if handled:
        message = f"{len(handled)}/{len(outcomes)} members handled ({', '.join(parts)}); "
        message += f"{added} rows added, {rejected} rejected"
        if added == 0 and rejected:
            message += " (no valid rows: see meta.rejected for the reasons)"
        return "done", message
    reasons = []
    for status in sorted(counts):
        users = sorted(u for u, o in outcomes.items() if o.status == status)
        first, hint = outcomes[users[0]].message, _HINTS.get(status)
        why = f"{first} ({hint})" if first and hint else first or hint or "no reason given"
        reasons.append(f"{status} for {', '.join(users)}: {why}")
    return "error", "nothing could be fetched: " + "; ".join(reasons)


_HINTS = {
    "needs_reauth": "their tokens were refused; they must re-authorise (`trackline auth PROVIDER "
    "--user ID`), then create the session again",
    "no_accounts": "no connected provider; run `trackline auth PROVIDER --user ID` first",
    "api_unavailable": "the API failed after retries (an outage?); create the session again later",
    "rate_limited": "the API quota is spent; create the session again after it resets",
}


class _Heartbeat:
    """Renews the lease every third of its length while the session runs."""

    def __init__(self, store: StateStore, session_id: str, worker_id: str, lease: float) -> None:
        self.store, self.session_id, self.worker_id, self.lease = (
            store,
            session_id,
            worker_id,
            lease,
        )
        self._stop = threading.Event()
        ctx = contextvars.copy_context()  # heartbeat log lines carry the session id too
        self._thread = threading.Thread(
            target=ctx.run, args=(self._beat,), name="trackline-lease", daemon=True
        )

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.lease / 3):
            try:
                ok = self.store.renew_lease(self.session_id, self.worker_id, self.lease)
            except Exception as exc:  # the store is away for a moment: try again next beat
                log.warning("session.renew_failed error=%s", type(exc).__name__)
                continue
            if not ok:
                log.warning("session.lease_lost worker_id=%s", self.worker_id)
                return
