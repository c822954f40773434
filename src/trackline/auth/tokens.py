"""Per-user access tokens: refreshed before expiry or after a 401, the rotated refresh token
stored every time (PKCE refresh tokens are single use), `invalid_grant` marks the user as
needing re-authorisation. Access tokens live only in memory.

Two guards on the refresh token (a `token_pins` document per user and provider):
- it goes only to the token endpoint origin it was issued by (or first sent to, for a token
  stored by `users add`): when the configured accounts URL names another host, the refresh is
  refused with a ConfigError and the token is not sent;
- a refresh whose answer was lost is not repeated (the provider may have rotated the token);
  the pin remembers it, so a later `invalid_grant` for that same token says what happened.
The pin holds a one-way fingerprint of the token, never the token.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from trackline.auth.oauth import OAuthApp, RefreshLostError, refresh
from trackline.core.http import HttpClient
from trackline.errors import ConfigError, NeedsReauthError
from trackline.state.connectors import ConnectorState

log = logging.getLogger(__name__)
SKEW = 60.0  # refresh this many seconds before the stated expiry
PINS = "token_pins"
LOST_REASON = "refresh token rotated by a refresh whose answer was lost"


def fingerprint(token: str) -> str:
    """A one-way tag of a (high-entropy) refresh token: tells the stored token from another."""
    return hashlib.sha256(b"trackline-token-pin\0" + token.encode()).hexdigest()[:32]


class TokenManager:
    def __init__(
        self,
        state: ConnectorState,
        http: HttpClient,
        app: OAuthApp,
        user_id: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state, self.http, self.app, self.user_id = state, http, app, user_id
        self._clock = clock
        self._lock = threading.Lock()
        self._access: str | None = None
        self._expires = 0.0
        self._lost: RefreshLostError | None = None
        self.refreshes = 0

    def headers(self) -> dict[str, str]:
        """Authorization header with a live access token (refreshing first if needed)."""
        with self._lock:
            if self._access is None or self._clock() >= self._expires - SKEW:
                self._refresh()
            return {"Authorization": f"Bearer {self._access}"}

    def invalidate(self) -> None:
        """The API said 401: the next call refreshes."""
        with self._lock:
            self._access = None

    def _refresh(self) -> None:
        provider = self.app.provider
        if self._lost is not None:  # no second send in this run: the next run finds out
            raise self._lost
        token = self.state.get_refresh_token(self.user_id, provider)
        if not token:
            reason = "no refresh token stored"
            self.state.mark_needs_reauth(self.user_id, provider, reason)
            raise NeedsReauthError(
                f"user {self.user_id} has no {provider} refresh token; run "
                f"`trackline auth {provider} --user {self.user_id}`"
            )
        pin = self._pin(token)
        try:
            tokens = refresh(self.http, self.app, token)
        except RefreshLostError as exc:
            self._put_pin({**pin, "lost": fingerprint(token), "lost_at": _now()})
            log.warning("auth.refresh_lost user=%s provider=%s", self.user_id, provider)
            self._lost = RefreshLostError(
                f"user {self.user_id}: {exc}; the refresh was not repeated because {provider} "
                "may have rotated the refresh token. Run the fetch again: if the token was "
                "rotated, it will say so"
            )
            raise self._lost from None
        except NeedsReauthError as exc:
            if pin.get("lost") == fingerprint(token):
                self.state.mark_needs_reauth(self.user_id, provider, LOST_REASON)
                log.warning("auth.needs_reauth user=%s provider=%s lost", self.user_id, provider)
                raise NeedsReauthError(
                    f"user {self.user_id}: the {provider} refresh token was rotated by a "
                    f"request whose answer was lost (at {pin.get('lost_at')}); it cannot be "
                    f"recovered: re-authorise with `trackline auth {provider} --user "
                    f"{self.user_id}`"
                ) from None
            self.state.mark_needs_reauth(self.user_id, provider, "invalid_grant")
            log.warning("auth.needs_reauth user=%s provider=%s", self.user_id, provider)
            raise NeedsReauthError(f"user {self.user_id}: {exc}") from None
        kept = token
        # A provider that returns no refresh token (Google) or the same one keeps the old one.
        if tokens.refresh_token and tokens.refresh_token != token:
            self.state.set_refresh_token(self.user_id, provider, tokens.refresh_token)
            kept = tokens.refresh_token
        if kept != token or "lost" in pin:
            self._put_pin({"origin": self.app.token_origin, "token": fingerprint(kept)})
        self._access, self._expires = tokens.access_token, self._clock() + tokens.expires_in
        self.refreshes += 1
        log.debug("auth.refreshed user=%s provider=%s", self.user_id, provider)

    def _pin(self, token: str) -> dict[str, Any]:
        """The origin this token belongs to; refuses to send it to any other. A token not yet
        pinned (stored by `trackline auth` or `users add`) is pinned to the configured one."""
        key = f"{self.app.provider}:{self.user_id}"
        pin = self.state.get_doc(PINS, key) or {}
        here = self.app.token_origin
        if pin.get("token") != fingerprint(token):
            pin = {"origin": here, "token": fingerprint(token)}
            self._put_pin(pin)
        elif pin.get("origin") != here:
            setting = self.app.token_setting or "the accounts URL"
            raise ConfigError(
                f"user {self.user_id}'s {self.app.provider} refresh token was issued by "
                f"{pin.get('origin')}, but {setting} now points at {here}: the token is not "
                f"sent there. Set {setting} back, or connect through the new host with "
                f"`trackline auth {self.app.provider} --user {self.user_id}`"
            )
        return pin

    def _put_pin(self, pin: dict[str, Any]) -> None:
        self.state.put_doc(PINS, f"{self.app.provider}:{self.user_id}", pin)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
