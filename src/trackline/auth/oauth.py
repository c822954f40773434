"""OAuth 2.0 Authorization Code with PKCE, a `state` check and a loopback redirect
(design.md 3.9): the user approves in a browser, the provider redirects to
`http://127.0.0.1:PORT/callback`, and the code is exchanged for tokens with the verifier.
Spotify requires `127.0.0.1`, not `localhost`."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from trackline.config import Settings
from trackline.core.http import HttpClient, register_secret
from trackline.core.http.client import AnswerLostError
from trackline.core.http.paginate import origin
from trackline.core.http.redact import redact
from trackline.errors import ConfigError, ConnectorError, NeedsReauthError, UsageError

SCOPES = {
    "spotify": (
        "user-read-recently-played",
        "user-top-read",
        "playlist-read-private",
        "playlist-read-collaborative",
    ),
    "youtube": ("https://www.googleapis.com/auth/youtube.readonly",),
}
PROVIDERS = tuple(SCOPES)


@dataclass(frozen=True)
class OAuthApp:
    provider: str
    authorize_url: str
    token_url: str
    client_id: str
    client_secret: str | None
    scopes: tuple[str, ...]
    token_setting: str = ""  # the setting that names the token endpoint, for messages

    @property
    def token_origin(self) -> str:
        """Where refresh tokens go: the token endpoint's scheme://host:port."""
        return origin(self.token_url)

    def __repr__(self) -> str:  # never show the secret
        return f"OAuthApp({self.provider!r}, client_id={self.client_id!r})"


def oauth_app(settings: Settings, provider: str) -> OAuthApp:
    """The configured OAuth client of a provider; a clear error when its client id is unset."""
    if provider == "spotify":
        cid, secret = settings.spotify_client_id, settings.spotify_client_secret
        base = settings.spotify_accounts_url.rstrip("/")
        auth_url, token_url = f"{base}/authorize", f"{base}/api/token"
        setting = "TRACKLINE_SPOTIFY_ACCOUNTS_URL"
    elif provider == "youtube":
        cid, secret = settings.youtube_client_id, settings.youtube_client_secret
        auth_url = settings.youtube_accounts_url.rstrip("/") + "/auth"
        token_url = settings.youtube_token_url
        setting = "TRACKLINE_YOUTUBE_TOKEN_URL"
    else:
        raise UsageError(f"unknown provider {provider!r}; expected one of {', '.join(PROVIDERS)}")
    if not cid:
        name = provider.upper()
        raise ConfigError(
            f"no {provider} client id: set TRACKLINE_{name}_CLIENT_ID (the app's id from the "
            f"{provider} developer console)"
        )
    plain = secret.get_secret_value() if secret is not None else None
    register_secret(plain)
    return OAuthApp(provider, auth_url, token_url, cid, plain, SCOPES[provider], setting)


class RefreshLostError(ConnectorError):
    """A refresh was sent but its answer lost: the provider may have rotated the token."""


@dataclass
class TokenSet:
    access_token: str
    expires_in: float  # seconds of life from when it was received
    refresh_token: str | None  # a new one when the provider rotated it

    def __repr__(self) -> str:
        return f"TokenSet(expires_in={self.expires_in:.0f})"


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge): 64 URL-safe characters, as RFC 7636 allows (43..128)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_url(app: OAuthApp, redirect_uri: str, state: str, challenge: str) -> str:
    params = {
        "client_id": app.client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "state": state,
        "scope": " ".join(app.scopes),
        "code_challenge_method": "S256",
        "code_challenge": challenge,
    }
    if app.provider == "youtube":
        params["access_type"] = "offline"
        params["prompt"] = "consent"
    return f"{app.authorize_url}?{urlencode(params)}"


def _token_call(http: HttpClient, app: OAuthApp, form: dict[str, str]) -> TokenSet:
    form = {**form, "client_id": app.client_id}
    if app.client_secret:
        form["client_secret"] = app.client_secret
    # Not idempotent: a refresh may rotate a single-use token, so a lost answer is not resent.
    resp, body = http.request(
        "POST", app.token_url, data=form, ok_statuses=frozenset({400}), idempotent=False
    )
    if resp.status_code == 400 or not isinstance(body, dict) or "access_token" not in body:
        code = body.get("error") if isinstance(body, dict) else None
        desc = body.get("error_description", "") if isinstance(body, dict) else ""
        if code == "invalid_grant":
            raise NeedsReauthError(
                f"{app.provider} refused the refresh token (invalid_grant: {redact(str(desc))}); "
                f"the user must run `trackline auth {app.provider}` again"
            )
        raise ConnectorError(
            f"{app.provider} token endpoint answered {resp.status_code} "
            f"({redact(str(code or body))}); check the client id and redirect URI"
        )
    access = str(body["access_token"])
    refresh = body.get("refresh_token")
    register_secret(access)
    register_secret(refresh)
    expires_in = float(body.get("expires_in") or 3600)
    return TokenSet(access, expires_in, str(refresh) if refresh else None)


def exchange_code(
    http: HttpClient, app: OAuthApp, code: str, redirect_uri: str, verifier: str
) -> TokenSet:
    register_secret(code)
    return _token_call(
        http,
        app,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        },
    )


def refresh(http: HttpClient, app: OAuthApp, refresh_token: str) -> TokenSet:
    """One refresh, never repeated after a lost answer (`RefreshLostError`): the provider may
    have rotated the token, and a resend of the old one would be refused."""
    register_secret(refresh_token)
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    try:
        return _token_call(http, app, form)
    except AnswerLostError as exc:
        raise RefreshLostError(
            f"{app.provider} token refresh got no answer ({exc}); run again later"
        ) from None


class _Callback:
    def __init__(self) -> None:
        self.params: dict[str, str] | None = None
        self.done = threading.Event()


def _handler(box: _Callback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/callback":
                self.send_error(404)
                return
            box.params = {k: v[0] for k, v in parse_qs(parts.query).items()}
            ok = "code" in box.params
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            text = "trackline: authorised, you can close this tab." if ok else "not authorised"
            self.wfile.write(text.encode())
            box.done.set()

        def log_message(self, format: str, *args: Any) -> None:  # the URL carries the code
            pass

    return Handler


def authorize(
    http: HttpClient,
    app: OAuthApp,
    *,
    port: int,
    show_url: Callable[[str], None],
    open_browser: bool = True,
    timeout: float = 300.0,
) -> TokenSet:
    """Run the whole flow: listen on the loopback, show (and open) the URL, check `state`,
    exchange the code. Port 0 picks a free port (the app must allow that redirect URI)."""
    box = _Callback()
    server = HTTPServer(("127.0.0.1", port), _handler(box))
    redirect_uri = f"http://127.0.0.1:{server.server_address[1]}/callback"
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    url = authorize_url(app, redirect_uri, state, challenge)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="trackline-oauth")
    thread.start()
    try:
        show_url(url)
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        if not box.done.wait(timeout):
            raise ConnectorError(
                f"no answer from the browser within {timeout:.0f}s; run `trackline auth "
                f"{app.provider}` again and approve the app"
            )
    finally:
        server.shutdown()
        server.server_close()
    params = box.params or {}
    if params.get("state") != state:
        raise ConnectorError("the OAuth state did not match (possible CSRF): nothing was stored")
    if "error" in params or "code" not in params:
        raise ConnectorError(f"{app.provider} did not authorise: {params.get('error', 'no code')}")
    return exchange_code(http, app, params["code"], redirect_uri, verifier)
