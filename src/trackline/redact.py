"""The one redaction: keep secrets out of every log line, error message and report.

Three layers, applied by `redact()` to any text:

1. registered secrets (tokens the process has handled) are masked wherever they appear;
2. every URL or connection string in the text (`scheme://user:password@host/...?...#...`) has
   its password masked (a lone userinfo too, it is a token, except a database's role name), and
   its query and fragment parameters whose names are secrets masked;
3. outside URLs, `name=value` pairs and `"name": "value"` items whose name is unmistakably a
   secret (`password`, `token`, `client_secret`, ... and libpq's `password=...`) are masked.

Ambiguous names (`key`, `code`, `sig`, `auth`, `state`, ...) are masked only in a query
string: inside a URL, or a pair joined to others by `&` (a form body). So `key=cart_3` in a
log line stays readable while `?key=...` in a URL does not. Only the standard library: the
CLI's log filter loads this at start.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import unquote

MASK = "***"

#: Names that are secrets wherever they appear as `name=value` (also as a name's last part:
#: `sasl_password`, `db.password`, `refreshToken`).
STRONG_NAMES = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "token",
        "secret",
        "credential",
        "credentials",
        "apikey",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "code_verifier",
        "api_key",
        "access_key",
        "secret_key",
        "private_key",
        "session_token",
        "auth_token",
    }
)
#: Names that are secrets in a query string but ordinary words in prose (`key=cart_3`).
QUERY_ONLY_NAMES = frozenset(
    {
        "key",
        "code",
        "sig",
        "signature",
        "auth",
        "authorization",
        "state",
        "x_amz_signature",
        "x_goog_signature",
        "x_amz_credential",
        "x_goog_credential",
    }
)
#: Token-named parameters that only page through results.
NOT_SECRET = frozenset(
    {"page_token", "next_page_token", "prev_page_token", "continuation_token", "sync_token"}
)
#: Kept for callers that test names: every name masked in a query string.
SECRET_KEYS = STRONG_NAMES | QUERY_ONLY_NAMES
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
#: Schemes whose lone userinfo is a role name (`postgresql://app@db/x`), not a credential
#: (elsewhere, as in `nats://TOKEN@host` or `redis://TOKEN@host`, it may be the credential).
ROLE_USER_SCHEMES = frozenset({"postgresql", "postgres", "mysql", "mariadb"})

_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s'\"<>`]*")
# name=value outside URLs; the value may be quoted (libpq: password='a b').
_PAIR = re.compile(r"(?<![\w.-])([A-Za-z_][\w.-]*)=('[^']*'|\"[^\"]*\"|[^\s&'\"]*)")
# "name": "value" in JSON or a Python repr.
_ITEM = re.compile(r"([\"'])([A-Za-z_][\w.-]*)\1(\s*:\s*)([\"'])(.*?)(?<!\\)\4")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _normal(name: str) -> str:
    return _CAMEL.sub("_", unquote(name)).lower().replace("-", "_").replace(".", "_")


def is_secret_name(name: str, in_query: bool = False) -> bool:
    """Whether a parameter called `name` carries a secret (`in_query`: inside a query string)."""
    n = _normal(name)
    if n in NOT_SECRET:
        return False
    if n in STRONG_NAMES or (in_query and n in QUERY_ONLY_NAMES):
        return True
    last = n.rsplit("_", 1)[-1]
    two = "_".join(n.rsplit("_", 2)[-2:])
    return last in STRONG_NAMES or two in STRONG_NAMES


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


def _mask_params(params: str) -> str:
    """`a=1&token=x` -> `a=1&token=***`, every other byte kept as it was."""
    out = []
    for part in params.split("&"):
        name, eq, _value = part.partition("=")
        out.append(f"{name}={MASK}" if eq and is_secret_name(name, in_query=True) else part)
    return "&".join(out)


def _redact_one_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    # The authority ends at the first / ? #; its userinfo at the last @ within it.
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    if "@" in authority:
        creds, host = authority.rsplit("@", 1)
        if ":" in creds:
            authority = f"{creds.split(':', 1)[0]}:{MASK}@{host}"
        elif scheme.lower() not in ROLE_USER_SCHEMES:
            authority = f"{MASK}@{host}"
    elif _cut_short(authority, tail):
        # An unescaped / ? # in a password ended the authority early: mask up to the last @.
        user = authority.split(":", 1)[0]
        return f"{scheme}{sep}{user}:{MASK}@{_redact_tail(tail.rsplit('@', 1)[1])}"
    return f"{scheme}{sep}{authority}{_redact_tail(tail)}"


def _cut_short(authority: str, tail: str) -> bool:
    """`u:pa/ss@h`: a colon not followed by a port, and an @ further on."""
    if "@" not in tail or authority.startswith("["):
        return False
    _, colon, after = authority.partition(":")
    return bool(colon) and not after.isdigit()


def _redact_tail(tail: str) -> str:
    path, hash_, fragment = tail.partition("#")
    path, q, query = path.partition("?")
    return path + q + _mask_params(query) + hash_ + _mask_params(fragment)


def _redact_pair(m: re.Match[str]) -> str:
    name, value = m.group(1), m.group(2)
    s, e = m.span()
    text = m.string
    # A pair joined to others by `&` (or after `?`) is a query string: the strict rule applies.
    in_query = (s > 0 and text[s - 1] in "?&") or text[e : e + 1] == "&"
    if value and is_secret_name(name, in_query=in_query):
        return f"{name}={MASK}"
    return m.group(0)


def _redact_item(m: re.Match[str]) -> str:
    if m.group(5) and is_secret_name(m.group(2)):
        q = m.group(4)
        return f"{m.group(1)}{m.group(2)}{m.group(1)}{m.group(3)}{q}{MASK}{q}"
    return m.group(0)


def redact(text: str) -> str:
    """Any text with registered secrets, credentials in URLs and secret parameters masked."""
    if not text:
        return text
    text = SECRETS.scrub(text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    pieces: list[str] = []
    last = 0
    for m in _URL.finditer(text):  # URLs whole, prose between them by the prose rules
        pieces.append(_redact_prose(text[last : m.start()]))
        pieces.append(_redact_one_url(m.group(0)))
        last = m.end()
    pieces.append(_redact_prose(text[last:]))
    return "".join(pieces)


def _redact_prose(text: str) -> str:
    if "=" in text:
        text = _PAIR.sub(_redact_pair, text)
    if ":" in text:
        text = _ITEM.sub(_redact_item, text)
    return text


def redact_url(url: str) -> str:
    """A URL or connection string safe to show (the same rules as `redact`)."""
    return redact(url)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: (MASK if k.lower() in SECRET_HEADERS else redact(v)) for k, v in headers.items()}


def redact_all(values: Iterable[str]) -> list[str]:
    return [redact(v) for v in values]


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs the message (and any traceback) of every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is the logger's problem, not a leak
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text, so the traceback they print is the redacted one.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_log_filter(logger: logging.Logger | None = None) -> None:
    """Attach the redacting filter to the trackline logger's handlers (idempotent)."""
    target = logger or logging.getLogger("trackline")
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    if not any(isinstance(f, RedactingFilter) for f in target.filters):
        target.addFilter(RedactingFilter())
