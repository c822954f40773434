"""The Firestore connection shared by the store's halves: client, collections, calls, schema.

Every call has a deadline and goes through the one retry policy (`core.retry`), so a server
that is away is one clear `StateError` within `state_retry_seconds`, never a hang: the client's own
retries are off (`retry=None`) on direct calls. Transactions keep Firestore's own loop (they
are retried when contention aborts them); their begin and commit use the client's defaults
(a server lost in the middle of one answers within about a minute, as a `StateError`).

What workers race on (claiming, renewing, finishing a session, recording outcomes) is a
compare-and-set (`_swap`): read the document, check the rules, write only if the document is
still the version read (a `last_update_time` precondition), else read and decide again.
Firestore's transactions lock what they read and, contended, abort and wait: on the emulator
four workers racing for twelve sessions took half a minute, then gave up; a lost
compare-and-set costs one more read. Rarely contended changes (users, tokens) use transactions.

With `FIRESTORE_EMULATOR_HOST` set, the client talks to the emulator with anonymous
credentials: no Google credentials are looked for and nothing reaches Google.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from trackline.core.retry import Backoff
from trackline.state.base import require_extra, utcnow
from trackline.state.errors import StateError
from trackline.state.firestore_map import FirestoreTarget, doc_id
from trackline.state.schema import check_version

T = TypeVar("T")
SCHEMA_VERSION = 1
CALL_TIMEOUT = 10.0  # seconds one call may take
TX_ATTEMPTS = 10  # tries of a transaction that contention aborts (Firestore's default is 5)
NO_RETRY: dict[str, Any] = {"timeout": CALL_TIMEOUT, "retry": None}  # `_call` retries
SWAP_ATTEMPTS = 100  # compare-and-set rounds lost to other writers before giving up
Decide = Callable[[dict[str, Any] | None], dict[str, Any] | None]


class FirestoreBase:
    """A Firestore client on one target (project, database, collection prefix)."""

    scheme = "firestore"

    def __init__(self, target: FirestoreTarget, retry_seconds: float) -> None:
        self.fs = require_extra("google.cloud.firestore", "gcp")
        self._errors = require_extra("google.api_core.exceptions", "gcp")
        self.target = target
        self.clock: Callable[[], datetime] = utcnow
        self.retry = Backoff(first=0.2, most=2.0, deadline=retry_seconds)
        self.where = f"firestore://{target.project}"
        emulator = os.environ.get("FIRESTORE_EMULATOR_HOST")
        if emulator:
            self.where += f" (emulator at {emulator})"
        try:
            self.client = self.fs.Client(project=target.project, database=target.database)
        except Exception as exc:  # the client raises auth/config errors of many types
            raise StateError(
                f"cannot open Firestore project {target.project!r}: {exc}; check "
                "GOOGLE_APPLICATION_CREDENTIALS or `gcloud auth application-default login` "
                "(or set FIRESTORE_EMULATOR_HOST for the emulator)"
            ) from None
        self._check_schema()

    # calls ---------------------------------------------------------------------------------
    def _call(self, fn: Callable[[], T], keep: tuple[type[BaseException], ...] = ()) -> T:
        """Run one client call under the retry policy; a server away becomes a StateError
        (errors in `keep` are raised as they are, for the caller)."""
        errors = self._errors
        transient = (
            errors.ServiceUnavailable,
            errors.DeadlineExceeded,
            errors.InternalServerError,
            errors.ResourceExhausted,
        )
        try:
            return self.retry.call(fn, transient, event="state.retry", what=self.where)
        except keep:
            raise
        except errors.GoogleAPICallError as exc:
            raise self._unreachable(exc) from None

    def _swap(self, ref: Any, decide: Decide) -> bool:
        """Compare-and-set one document: `decide(data or None)` returns the fields to update
        (False is returned when it returns None; it may raise); they are written only if the
        document did not change since it was read, else it is read and decided again."""
        errors = self._errors
        lost = (errors.FailedPrecondition, errors.NotFound)
        for attempt in range(SWAP_ATTEMPTS):
            snap = self._get(ref)
            fields = decide(snap.to_dict() if snap.exists else None)
            if fields is None:
                return False
            option = self.client.write_option(last_update_time=snap.update_time)
            try:
                self._call(partial(ref.update, fields, option=option, **NO_RETRY), keep=lost)
                return True
            except lost:  # another writer changed it since the read: decide again
                time.sleep(random.uniform(0.0, 0.002 * min(attempt + 1, 25)))
        raise StateError(
            f"the Firestore state store {self.where} is too busy: {SWAP_ATTEMPTS} tries to "
            f"change {ref.path} lost to other writers; try again"
        )

    def _unreachable(self, exc: BaseException) -> StateError:
        detail = getattr(exc, "message", None) or type(exc).__name__
        return StateError(
            f"the Firestore state store {self.where} did not answer: {detail}; check the "
            "network, the project id and credentials (FIRESTORE_EMULATOR_HOST for the emulator)"
        )

    def _get(self, ref: Any, transaction: Any = None) -> Any:
        if transaction is not None:  # inside a transaction: its own retry loop applies
            return ref.get(transaction=transaction, timeout=CALL_TIMEOUT, retry=None)
        return self._call(lambda: ref.get(timeout=CALL_TIMEOUT, retry=None))

    def _stream(self, query: Any) -> list[Any]:
        return self._call(lambda: list(query.stream(timeout=CALL_TIMEOUT, retry=None)))

    def _in_tx(self, fn: Callable[[Any], T]) -> T:
        """Run `fn(transaction)` in a Firestore transaction (retried when contention aborts
        it); the rules checked inside hold at commit, or nothing is written."""
        errors = self._errors
        try:
            result: T = self.fs.transactional(fn)(self.client.transaction(max_attempts=TX_ATTEMPTS))
        except errors.GoogleAPICallError as exc:
            raise self._unreachable(exc) from None
        except ValueError as exc:  # the client's rollback after a begin that never answered
            if "no transaction ID" not in str(exc):
                raise
            raise self._unreachable(exc) from None
        return result

    # collections -----------------------------------------------------------------------------
    def _col(self, name: str) -> Any:
        return self.client.collection(self.target.collection(name))

    def _now(self) -> datetime:
        return self.clock()

    def _user_ref(self, user_id: str) -> Any:
        return self._col("users").document(doc_id(user_id))

    def _session_ref(self, session_id: str) -> Any:
        return self._col("sessions").document(doc_id(session_id))

    # schema ----------------------------------------------------------------------------------
    def _check_schema(self) -> None:
        """The version in `<prefix>meta/schema`: a newer one is refused, none is recorded."""
        current = self.schema_version()
        check_version(current, SCHEMA_VERSION, self.where)
        if current < SCHEMA_VERSION:
            ref = self._col("meta").document("schema")
            doc = {"version": SCHEMA_VERSION, "applied_at": self._now()}
            self._call(lambda: ref.set(doc, timeout=CALL_TIMEOUT, retry=None))

    def schema_version(self) -> int:
        snap = self._get(self._col("meta").document("schema"))
        return int((snap.to_dict() or {}).get("version", 0)) if snap.exists else 0

    def close(self) -> None:
        self.client.close()
