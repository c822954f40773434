"""One HTTP client for every connector: timeouts, retries, rate limits, bounded concurrency.

Retries (the shared `core.retry.Backoff`) cover what is worth trying again: 5xx, 429, timeouts,
connection errors and bodies that are not JSON. Waits grow exponentially with jitter; a 429
waits at least its `Retry-After` (a zero or missing value still backs off). Some refusals are
final and stop the caller's run at once: a Spotify 429 whose body says `QUOTA_EXCEEDED`, a
YouTube 403 `quotaExceeded`, a `Retry-After` longer than configured. A shared semaphore bounds
requests in flight across every user and endpoint of the process. URLs and errors are redacted.

A request that is not idempotent (a POST, such as a token refresh that rotates a single-use
refresh token) is retried only when the server cannot have acted on it (no connection, or a
429); otherwise its lost answer is an `AnswerLostError`, never a blind second send. With
`auth_origin`, a bearer token goes to no other scheme, host or port.
"""

from __future__ import annotations

import json
import logging
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from trackline.config import Settings
from trackline.core.http.paginate import origin
from trackline.core.http.redact import redact, redact_url
from trackline.core.retry import Backoff
from trackline.errors import ConnectorError, RateLimitedError

log = logging.getLogger(__name__)

Headers = Mapping[str, str]


class MalformedResponseError(ConnectorError):
    """The API kept answering with a body that is not JSON; `body` holds (part of) it."""

    def __init__(self, message: str, body: str) -> None:
        super().__init__(message)
        self.body = body


class UnauthorizedError(ConnectorError):
    """401 even after one token refresh."""


class AnswerLostError(ConnectorError):
    """A request that is not safe to repeat may have reached the server, but its answer was
    lost (timeout, dropped connection, 5xx, unreadable body): it was not sent again."""


class HttpStatusError(ConnectorError):
    """A final 4xx answer (not 401/429): the API refused this call; `status` says how, so a
    caller can tell a closed or missing resource from an outage (failed after retries)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ForeignHostError(ConnectorError):
    """A URL on another origin than the API's own: its bearer token is not sent there."""


IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class _Lost(Exception):
    """The server may have acted on a non-idempotent request; `reason` says how it was lost."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Transient(Exception):
    """A failure worth another try; `retry_after` seconds from the server when it gave one."""

    def __init__(
        self,
        reason: str,
        retry_after: float | None = None,
        body: str | None = None,
        *,
        unsent: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.body = body
        self.unsent = unsent  # the request never reached the server


@dataclass
class HttpStats:
    """What a client did: for summaries and the benchmark (thread-safe counters)."""

    requests: int = 0
    retries: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, status: int, seconds: float) -> None:
        with self._lock:
            self.requests += 1
            self.by_status[status] += 1
            self.latencies.append(seconds)

    def retried(self) -> None:
        with self._lock:
            self.retries += 1

    def median_latency(self) -> float:
        with self._lock:
            return statistics.median(self.latencies) if self.latencies else 0.0

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "retries": self.retries,
                "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            }


@dataclass(frozen=True)
class RetryPolicy:
    """The HTTP settings of the shared backoff, and the longest Retry-After worth waiting."""

    max_attempts: int = 5
    backoff: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 120.0

    @property
    def schedule(self) -> Backoff:
        return Backoff(first=self.backoff, most=self.backoff_max, attempts=self.max_attempts)

    @classmethod
    def from_settings(cls, s: Settings) -> RetryPolicy:
        return cls(
            s.http_max_attempts,
            s.http_backoff_seconds,
            s.http_backoff_max_seconds,
            s.http_max_retry_after_seconds,
        )


class HttpClient:
    """A thread-safe JSON client over one pooled `httpx.Client`."""

    def __init__(
        self,
        *,
        timeout: float = 15.0,
        policy: RetryPolicy | None = None,
        max_concurrency: int = 8,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.stats = HttpStats()
        self._sleep = sleep
        self._slots = threading.BoundedSemaphore(max_concurrency)
        limits = httpx.Limits(
            max_connections=max_concurrency, max_keepalive_connections=max_concurrency
        )
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            limits=limits,
            transport=transport,
            headers={"User-Agent": "trackline"},
            follow_redirects=False,
        )

    @classmethod
    def from_settings(cls, s: Settings) -> HttpClient:
        return cls(
            timeout=s.http_timeout_seconds,
            policy=RetryPolicy.from_settings(s),
            max_concurrency=s.http_max_concurrency,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Public ------------------------------------------------------------------------------
    def get_json(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        *,
        auth: Callable[[], Headers] | None = None,
        on_unauthorized: Callable[[], None] | None = None,
        allow_empty: bool = False,
        auth_origin: str | None = None,
    ) -> Any:
        """GET and parse JSON. `auth` gives headers per attempt; on a 401, `on_unauthorized`
        (a token refresh) runs once and the call is repeated. An empty 200 body is None when
        `allow_empty` (Fake Store's "not found"). With `auth_origin`, a URL on another origin
        is refused before `auth` is asked for headers."""
        resp = self.request(
            "GET", url, params=params, auth=auth, on_unauthorized=on_unauthorized, parse=True,
            allow_empty=allow_empty, auth_origin=auth_origin,
        )  # fmt: skip
        return resp[1]

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        json_body: Any = None,
        auth: Callable[[], Headers] | None = None,
        on_unauthorized: Callable[[], None] | None = None,
        parse: bool = True,
        allow_empty: bool = False,
        ok_statuses: frozenset[int] = frozenset(),
        auth_origin: str | None = None,
        idempotent: bool | None = None,
    ) -> tuple[httpx.Response, Any]:
        """Send with retries; returns the final response and its parsed JSON (or None).
        `idempotent` defaults by method (GET, HEAD, OPTIONS, PUT, DELETE); pass True only for
        a POST the API documents as safe to repeat."""
        refreshed = False
        shown = redact_url(_full(url, params))
        if auth is not None and auth_origin is not None and origin(url) != origin(auth_origin):
            raise ForeignHostError(
                f"{method} {shown}: refused, the URL is not on the API's own host "
                f"{origin(auth_origin)}; its access token is sent nowhere else"
            )
        safe = method.upper() in IDEMPOTENT if idempotent is None else idempotent

        def attempt() -> tuple[httpx.Response, Any]:
            try:
                return self._send(
                    method, url, params, data, json_body, auth, parse, allow_empty, ok_statuses
                )
            except _Transient as exc:
                # Only a request that never reached the server, or a 429 (refused before
                # acting), may be repeated when it is not idempotent.
                if safe or exc.unsent or exc.reason.startswith("429"):
                    raise
                raise _Lost(exc.reason) from None

        while True:
            retrying = self.policy.schedule.retrying(
                (_Transient,),
                event="http.retry",
                what=f"method={method} url={shown}",
                describe=lambda exc: repr(redact(str(exc))),
                at_least=lambda exc: exc.retry_after if isinstance(exc, _Transient) else None,
                sleep=self._sleep,
                on_retry=lambda _: self.stats.retried(),
                logger=log,
                level=logging.INFO,
            )
            try:
                resp, body = retrying(attempt)
            except _Lost as exc:
                raise AnswerLostError(
                    f"{method} {shown}: no usable answer ({exc.reason}); not sent again because "
                    "the server may already have acted on it"
                ) from None
            except _Transient as exc:
                where = f"{method} {shown}"
                if exc.body is not None:
                    raise MalformedResponseError(
                        f"{where}: the response is not JSON after "
                        f"{self.policy.max_attempts} tries ({exc.reason})",
                        exc.body,
                    ) from None
                raise ConnectorError(
                    f"{where} failed after {self.policy.max_attempts} tries: {exc.reason} "
                    "(the API may be down; run the fetch again later)"
                ) from None
            if resp.status_code == 401:
                if on_unauthorized is not None and not refreshed:
                    refreshed = True
                    on_unauthorized()
                    continue
                raise UnauthorizedError(
                    f"{method} {shown}: 401 unauthorized "
                    f"({_error_message(body)}); re-authorise with `trackline auth`"
                )
            return resp, body

    # Internals ---------------------------------------------------------------------------
    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        data: Mapping[str, str] | None,
        json_body: Any,
        auth: Callable[[], Headers] | None,
        parse: bool,
        allow_empty: bool,
        ok_statuses: frozenset[int],
    ) -> tuple[httpx.Response, Any]:
        headers = dict(auth()) if auth is not None else {}
        start = time.perf_counter()
        try:
            with self._slots:
                resp = self._http.request(
                    method, url, params=params, data=data, json=json_body, headers=headers
                )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            self.stats.record(0, time.perf_counter() - start)
            raise _Transient(f"connection error ({type(exc).__name__})", unsent=True) from None
        except httpx.TimeoutException:
            self.stats.record(0, time.perf_counter() - start)
            raise _Transient("timeout") from None
        except httpx.TransportError as exc:
            self.stats.record(0, time.perf_counter() - start)
            raise _Transient(f"connection error ({type(exc).__name__})") from None
        self.stats.record(resp.status_code, time.perf_counter() - start)
        status = resp.status_code
        text = resp.text
        if status == 429:
            retry_after = _retry_after(resp.headers.get("Retry-After"))
            if "QUOTA_EXCEEDED" in text.upper() and "QUOTA" in text.upper():
                raise RateLimitedError(
                    f"{method} {redact_url(str(resp.url))}: the API quota is exhausted "
                    "(429 QUOTA_EXCEEDED); this user's run stops, try again later"
                )
            if retry_after is not None and retry_after > self.policy.max_retry_after:
                raise RateLimitedError(
                    f"{method} {redact_url(str(resp.url))}: rate limited for {retry_after:.0f}s "
                    f"(over http_max_retry_after_seconds={self.policy.max_retry_after:.0f}); "
                    "try again later"
                )
            raise _Transient("429 rate limited", retry_after=retry_after or 0.0)
        if status == 403 and "quotaexceeded" in text.lower().replace("_", ""):
            raise RateLimitedError(
                f"{method} {redact_url(str(resp.url))}: the API's daily quota is exhausted "
                "(403 quotaExceeded); try again after it resets"
            )
        if status == 403 and "ratelimitexceeded" in text.lower():
            # Google's per-minute limit (also userRateLimitExceeded): transient, so retried
            raise _Transient("403 rateLimitExceeded")
        if status >= 500:
            raise _Transient(f"{status} server error")
        if status >= 400 and status not in ok_statuses and status != 401:
            raise HttpStatusError(
                f"{method} {redact_url(str(resp.url))}: {status} {_error_message(_loads(text))}",
                status,
            )
        if not parse or status == 204:
            return resp, None
        if not text.strip():
            if allow_empty or status == 401:
                return resp, None
            raise _Transient("empty body", body="")
        try:
            return resp, json.loads(text)
        except ValueError:
            raise _Transient("malformed JSON", body=text[:4000]) from None


def _full(url: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return url
    return str(httpx.URL(url, params={k: str(v) for k, v in params.items()}))


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text[:200]


def _error_message(body: Any) -> str:
    """The API's own error text (Spotify, Google and OAuth shapes), redacted."""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            return redact(str(err.get("message") or err))
        if isinstance(err, str):
            return redact(f"{err}: {body.get('error_description', '')}".rstrip(": "))
    return redact(str(body or "no details"))
