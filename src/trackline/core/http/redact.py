"""Keep secrets out of logs, errors and reports (design.md 3.9).

Two layers: query parameters and headers known to carry secrets are masked wherever a URL or
header map is shown, and every token value the process handles is registered so that any text
(a log line, an exception message) can be scrubbed of it, wherever it ended up.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
#: Query parameters and form fields whose values are secrets.
SECRET_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "client_secret",
        "code",
        "code_verifier",
        "id_token",
        "key",
        "api_key",
        "apikey",
        "token",
        "password",
        "secret",
        "state",
    }
)
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_QUERY_SECRET = re.compile(
    r"(?i)\b(" + "|".join(sorted(SECRET_KEYS)) + r")=([^&\s\"']+)",
)


class _Secrets:
    """Values to scrub from any text; kept for the life of the process (tokens are few)."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, value: str | None) -> None:
        if value and len(value) >= 6:  # short strings would mask ordinary words
            with self._lock:
                self._values.add(value)

    def scrub(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for v in values:
            if v in text:
                text = text.replace(v, MASK)
        return text


SECRETS = _Secrets()


def register_secret(value: str | None) -> None:
    """Remember a secret value so `redact()` removes it from any text from now on."""
    SECRETS.add(value)


def redact_url(url: str) -> str:
    """The URL with secret query parameters and userinfo masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, MASK if k.lower() in SECRET_KEYS else v) for k, v in pairs], safe="*,:"
        )
    return SECRETS.scrub(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: (MASK if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


def redact(text: str) -> str:
    """Any text with registered secrets, bearer credentials and secret parameters masked."""
    text = SECRETS.scrub(text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _QUERY_SECRET.sub(lambda m: f"{m.group(1)}={MASK}", text)


def redact_all(values: Iterable[str]) -> list[str]:
    return [redact(v) for v in values]


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs the formatted message of every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is the logger's problem, not a leak
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def install_log_filter(logger: logging.Logger | None = None) -> None:
    """Attach the redacting filter to the trackline logger's handlers (idempotent)."""
    target = logger or logging.getLogger("trackline")
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    if not any(isinstance(f, RedactingFilter) for f in target.filters):
        target.addFilter(RedactingFilter())
