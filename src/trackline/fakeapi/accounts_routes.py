"""An OAuth 2.0 authorisation server for the fakes: Authorization Code with PKCE, refresh
tokens that rotate (a used refresh token is dead, as with Spotify's PKCE tokens), expiring
access tokens, and revocation (the next refresh gets `invalid_grant`)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response


@dataclass
class _Code:
    user: str
    redirect_uri: str
    challenge: str
    client_id: str


@dataclass
class Authority:
    """Tokens of one provider. `token_ttl` seconds of life for access tokens."""

    name: str
    token_ttl: float = 3600.0
    rotate: bool = True
    default_user: str = "fake_user"
    _codes: dict[str, _Code] = field(default_factory=dict)
    _refresh: dict[str, str] = field(default_factory=dict)  # refresh token -> user
    _access: dict[str, tuple[str, float]] = field(default_factory=dict)  # -> (user, expires)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    refreshes: int = 0
    issued: list[str] = field(default_factory=list)  # every token ever issued (leak checks)

    # Python-side helpers (tests, demo) ---------------------------------------------------
    def issue_refresh_token(self, user: str) -> str:
        token = f"{self.name[:2]}r_{secrets.token_urlsafe(24)}"
        with self._lock:
            self.issued.append(token)
            self._refresh[token] = user
        return token

    def issue_access_token(self, user: str, ttl: float | None = None) -> str:
        token = f"{self.name[:2]}a_{secrets.token_urlsafe(24)}"
        with self._lock:
            self.issued.append(token)
            self._access[token] = (user, time.time() + (self.token_ttl if ttl is None else ttl))
        return token

    def revoke(self, user: str) -> None:
        """Kill every token of `user`: their next refresh gets invalid_grant."""
        with self._lock:
            self._refresh = {t: u for t, u in self._refresh.items() if u != user}
            self._access = {t: v for t, v in self._access.items() if v[0] != user}

    def expire_access_tokens(self) -> None:
        with self._lock:
            self._access = {t: (u, 0.0) for t, (u, _) in self._access.items()}

    def user_for(self, authorization: str | None) -> tuple[str | None, str]:
        """(user, "") for a live bearer token, else (None, why)."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return None, "No token provided"
        token = authorization.split(" ", 1)[1].strip()
        with self._lock:
            found = self._access.get(token)
        if found is None:
            return None, "Invalid access token"
        user, expires = found
        if expires <= time.time():
            return None, "The access token expired"
        return user, ""

    # HTTP endpoints ----------------------------------------------------------------------
    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        redirect_uri = q.get("redirect_uri", "")
        host = urlsplit(redirect_uri).hostname
        if host != "127.0.0.1":
            return PlainTextResponse("INVALID_CLIENT: Invalid redirect URI", status_code=400)
        if q.get("response_type") != "code" or not q.get("client_id"):
            return PlainTextResponse("unsupported_response_type", status_code=400)
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return PlainTextResponse("code_challenge (S256) required", status_code=400)
        code = secrets.token_urlsafe(16)
        user = q.get("login_hint") or self.default_user
        with self._lock:
            self._codes[code] = _Code(
                user, redirect_uri, q["code_challenge"], q.get("client_id", "")
            )
        params = {"code": code}
        if "state" in q:
            params["state"] = q["state"]
        return RedirectResponse(f"{redirect_uri}?{urlencode(params)}", status_code=302)

    async def token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        grant = form.get("grant_type", "")
        if grant == "authorization_code":
            return self._code_grant(form)
        if grant == "refresh_token":
            return self._refresh_grant(form.get("refresh_token", ""))
        return _oauth_error("unsupported_grant_type", f"grant_type {grant!r}")

    def _code_grant(self, form: dict[str, str]) -> Response:
        with self._lock:
            found = self._codes.pop(form.get("code", ""), None)
        if found is None:
            return _oauth_error("invalid_grant", "Invalid authorization code")
        if form.get("redirect_uri") != found.redirect_uri:
            return _oauth_error("invalid_grant", "Invalid redirect URI")
        verifier = form.get("code_verifier", "")
        if not verifier or _challenge(verifier) != found.challenge:
            return _oauth_error("invalid_grant", "code_verifier was incorrect")
        return self._tokens(found.user)

    def _refresh_grant(self, token: str) -> Response:
        with self._lock:
            user = self._refresh.get(token)
            if user is not None and self.rotate:
                del self._refresh[token]
            self.refreshes += 1
        if user is None:
            return _oauth_error("invalid_grant", "Refresh token revoked")
        return self._tokens(user, keep_refresh=None if self.rotate else token)

    def _tokens(self, user: str, keep_refresh: str | None = None) -> Response:
        body = {
            "access_token": self.issue_access_token(user),
            "token_type": "Bearer",
            "expires_in": int(self.token_ttl),
            "scope": "user-read-recently-played user-top-read playlist-read-private",
        }
        if keep_refresh is None:
            body["refresh_token"] = self.issue_refresh_token(user)
        return JSONResponse(body)


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _oauth_error(code: str, description: str) -> Response:
    return JSONResponse({"error": code, "error_description": description}, status_code=400)
