"""Who may push to the worker: a shared bearer token (default) or a Google-signed OIDC token.

Pub/Sub push subscriptions authenticate with an OIDC token in `Authorization: Bearer ...`,
signed by Google for a service account, with the push URL (or a configured value) as audience.
Verifying it needs google-auth (`trackline[gcp]`); OIDC needs both the audience and the service
account configured, or the worker refuses to start. The token mode compares in constant time.
No token, header value or caller-supplied claim ever reaches a log line or an error message.
"""

from __future__ import annotations

import hmac
import importlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from trackline.config import Settings
from trackline.errors import ConfigError, TracklineError

Verify = Callable[[str, str], Mapping[str, Any]]  # (token, audience) -> claims, or raises
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
_NEEDS_AUDIENCE = (
    "OIDC authentication needs the expected audience: set "
    "TRACKLINE_WORKER_OIDC_AUDIENCE to the push endpoint URL"
)
_NEEDS_EMAIL = (
    "OIDC authentication needs the push subscription's service account: set "
    "TRACKLINE_WORKER_OIDC_EMAIL (without it any Google account could push)"
)


class AuthError(TracklineError):
    """The caller is not authenticated (the endpoint answers 401); says why, without secrets."""


class AuthUnavailable(TracklineError):
    """The verifier itself failed (e.g. Google's certificates unreachable): 503, retry later."""


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
    """Google-signed ID tokens: signature and expiry by the verifier (google-auth), then trackline
    checks the claims itself (audience, issuer, verified email of the one service account), so a
    verifier that skips one of them still cannot open the door."""

    mode = "oidc"

    def __init__(self, audience: str, email: str, verify: Verify | None = None) -> None:
        # Any Google account can mint an ID token for any audience: without the service account
        # (or the audience) to compare against, "signed by Google" would admit anyone.
        if not audience or not audience.strip():
            raise ConfigError(_NEEDS_AUDIENCE)
        if not email or not email.strip():
            raise ConfigError(_NEEDS_EMAIL)
        self.audience = audience.strip()
        self.email = email.strip().lower()
        self._verify = verify or google_verifier()

    def check(self, authorization: str | None) -> str:
        token = bearer(authorization)
        try:
            claims = self._verify(token, self.audience)
        except ValueError:  # google-auth's way of saying "invalid token"; its text may quote claims
            raise AuthError(
                "OIDC token rejected (bad signature, expired, or not for this audience)"
            ) from None
        except Exception as exc:  # fail closed, but say it is ours so Pub/Sub retries
            raise AuthUnavailable(
                f"could not verify the OIDC token ({type(exc).__name__}): retry later"
            ) from None
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if self.audience not in audiences:
            raise AuthError("OIDC token is not for this endpoint's audience")
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise AuthError("OIDC token was not issued by Google")
        email = claims.get("email")
        # `email_verified` must be the JSON boolean true: a string "false" is truthy in Python.
        if claims.get("email_verified") is not True:
            raise AuthError("OIDC token has no verified email")
        if not isinstance(email, str) or email.lower() != self.email:
            raise AuthError("OIDC token is not from the configured service account")
        return self.email


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


def from_settings(settings: Settings, verify: Verify | None = None) -> Authenticator:
    """The authenticator the settings ask for; refuses to start with none (or half) configured.

    `verify` replaces google-auth's OIDC verifier (tests sign tokens with a local key)."""
    mode = settings.worker_auth.strip().lower()
    if mode == "token":
        if settings.worker_token is None or not settings.worker_token.get_secret_value():
            raise ConfigError(
                "the worker needs a token to authenticate pushes: set TRACKLINE_WORKER_TOKEN "
                "(e.g. `openssl rand -hex 32`), or TRACKLINE_WORKER_AUTH=oidc on GCP"
            )
        return TokenAuth(settings.worker_token.get_secret_value())
    if mode == "oidc":
        # Both checked before google-auth is imported, so the first error names what is missing.
        audience = (settings.worker_oidc_audience or "").strip()
        email = (settings.worker_oidc_email or "").strip()
        if not audience:
            raise ConfigError(_NEEDS_AUDIENCE)
        if not email:
            raise ConfigError(_NEEDS_EMAIL)
        return OIDCAuth(audience, email, verify)
    raise ConfigError(f"unknown worker auth {mode!r}: use token or oidc (TRACKLINE_WORKER_AUTH)")
