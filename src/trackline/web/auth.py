"""Who may push to the worker: a shared bearer token (default) or a Google-signed OIDC token.

Pub/Sub push subscriptions authenticate with an OIDC token in `Authorization: Bearer ...`,
signed by Google for a service account, with the push URL (or a configured value) as audience.
Verifying it needs google-auth (`trackline[gcp]`). The token mode compares in constant time.
No token, claim or header value ever reaches a log line or an error message.
"""

from __future__ import annotations

import hmac
import importlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from trackline.config import Settings
from trackline.errors import ConfigError, TracklineError

Verify = Callable[[str, str], Mapping[str, Any]]  # (token, audience) -> claims, or raises


class AuthError(TracklineError):
    """The caller is not authenticated (the endpoint answers 401); says why, without secrets."""


class Authenticator(Protocol):
    mode: str

    def check(self, authorization: str | None) -> str:
        """The caller's identity, or raise AuthError."""
        ...


def bearer(authorization: str | None) -> str:
    if not authorization:
        raise AuthError("missing Authorization header (expected `Bearer <token>`)")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("malformed Authorization header (expected `Bearer <token>`)")
    return token.strip()


class TokenAuth:
    mode = "token"

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ConfigError("the worker token is empty: set TRACKLINE_WORKER_TOKEN")
        self._secret = secret.encode()

    def check(self, authorization: str | None) -> str:
        token = bearer(authorization)
        if not hmac.compare_digest(token.encode(), self._secret):
            raise AuthError("invalid bearer token")
        return "token"


class OIDCAuth:
    """Google-signed ID tokens: signature, expiry and audience by google-auth, then the email."""

    mode = "oidc"

    def __init__(self, audience: str, email: str | None, verify: Verify | None = None) -> None:
        self.audience = audience
        self.email = email
        self._verify = verify or google_verifier()

    def check(self, authorization: str | None) -> str:
        token = bearer(authorization)
        try:
            claims = self._verify(token, self.audience)
        except ValueError as exc:  # google-auth's way of saying "invalid token"
            raise AuthError(f"OIDC token rejected: {_first_line(exc)}") from None
        email = claims.get("email")
        if self.email is not None and (email != self.email or not claims.get("email_verified")):
            raise AuthError("OIDC token is not from the configured service account")
        return str(email or claims.get("sub", "oidc"))


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:120]


def google_verifier() -> Verify:
    """google-auth's verifier (fetches Google's public certs over HTTPS when first used)."""
    try:
        id_token = importlib.import_module("google.oauth2.id_token")
        transport = importlib.import_module("google.auth.transport.requests")
    except ImportError:
        raise ConfigError(
            "OIDC push authentication needs google-auth: install it with "
            "`pip install 'trackline[gcp]'` (or use TRACKLINE_WORKER_AUTH=token)"
        ) from None
    request = transport.Request()

    def verify(token: str, audience: str) -> Mapping[str, Any]:
        claims: Mapping[str, Any] = id_token.verify_oauth2_token(token, request, audience)
        return claims

    return verify


def from_settings(settings: Settings) -> Authenticator:
    """The authenticator the settings ask for; refuses to start with none configured."""
    mode = settings.worker_auth.strip().lower()
    if mode == "token":
        if settings.worker_token is None or not settings.worker_token.get_secret_value():
            raise ConfigError(
                "the worker needs a token to authenticate pushes: set TRACKLINE_WORKER_TOKEN "
                "(e.g. `openssl rand -hex 32`), or TRACKLINE_WORKER_AUTH=oidc on GCP"
            )
        return TokenAuth(settings.worker_token.get_secret_value())
    if mode == "oidc":
        if not settings.worker_oidc_audience:
            raise ConfigError(
                "OIDC authentication needs the expected audience: set "
                "TRACKLINE_WORKER_OIDC_AUDIENCE to the push endpoint URL"
            )
        return OIDCAuth(settings.worker_oidc_audience, settings.worker_oidc_email)
    raise ConfigError(f"unknown worker auth {mode!r}: use token or oidc (TRACKLINE_WORKER_AUTH)")
