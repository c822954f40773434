"""Who may see the dashboard: anyone on 127.0.0.1 by default; with `TRACKLINE_DASHBOARD_TOKEN`
set, only callers presenting it, checked before anything is read.

A script sends `Authorization: Bearer <token>`; a browser posts the token once to `/login` and
gets an HttpOnly, SameSite=Strict cookie holding an HMAC of the token (never the token itself,
never in a URL). Comparisons are constant-time; no token reaches a log or a page.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs

from starlette.requests import Request

from trackline.errors import ConfigError

COOKIE = "trackline_dashboard"
LOOPBACK = ("127.0.0.1", "::1", "localhost")
MAX_FORM_BYTES = 4096


def check_bind(host: str, token: str | None) -> None:
    """Binding anything but the loopback interface needs a token (exit 2 otherwise)."""
    if host not in LOOPBACK and not token:
        raise ConfigError(
            f"the dashboard binds {host} only with a token: set TRACKLINE_DASHBOARD_TOKEN "
            "(or bind 127.0.0.1, the default)"
        )


class DashboardAuth:
    def __init__(self, token: str | None) -> None:
        self._token = token.encode() if token else None
        self._cookie = (
            hmac.new(self._token, b"trackline-dashboard-session", hashlib.sha256).hexdigest()
            if self._token
            else ""
        )

    @property
    def required(self) -> bool:
        return self._token is not None

    def allows(self, request: Request) -> bool:
        if self._token is None:
            return True
        header = request.headers.get("authorization", "")
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), self._token):
            return True
        cookie = request.cookies.get(COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), self._cookie.encode())

    def login(self, body: bytes) -> str | None:
        """The session cookie's value when the posted form holds the right token."""
        if self._token is None or len(body) > MAX_FORM_BYTES:
            return None
        form = parse_qs(body.decode("utf-8", "replace"))
        given = (form.get("token") or [""])[0].encode()
        return self._cookie if given and hmac.compare_digest(given, self._token) else None
