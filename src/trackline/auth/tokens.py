"""Per-user access tokens: refreshed before expiry or after a 401, the rotated refresh token
stored every time (PKCE refresh tokens are single use), `invalid_grant` marks the user as
needing re-authorisation. Access tokens live only in memory."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from trackline.auth.oauth import OAuthApp, refresh
from trackline.core.http import HttpClient
from trackline.errors import NeedsReauthError
from trackline.state.connectors import ConnectorState

log = logging.getLogger(__name__)
SKEW = 60.0  # refresh this many seconds before the stated expiry


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
        token = self.state.get_refresh_token(self.user_id, provider)
        if not token:
            reason = "no refresh token stored"
            self.state.mark_needs_reauth(self.user_id, provider, reason)
            raise NeedsReauthError(
                f"user {self.user_id} has no {provider} refresh token; run "
                f"`trackline auth {provider} --user {self.user_id}`"
            )
        try:
            tokens = refresh(self.http, self.app, token)
        except NeedsReauthError as exc:
            self.state.mark_needs_reauth(self.user_id, provider, "invalid_grant")
            log.warning("auth.needs_reauth user=%s provider=%s", self.user_id, provider)
            raise NeedsReauthError(f"user {self.user_id}: {exc}") from None
        if tokens.refresh_token and tokens.refresh_token != token:
            self.state.set_refresh_token(self.user_id, provider, tokens.refresh_token)
        self._access, self._expires = tokens.access_token, self._clock() + tokens.expires_in
        self.refreshes += 1
        log.debug("auth.refreshed user=%s provider=%s", self.user_id, provider)
