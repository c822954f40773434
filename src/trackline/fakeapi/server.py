"""One ASGI app serving every fake API, and ways to run it: in a thread for tests and the demo
(`serve()`), or in the foreground for `trackline fake-api`.

Paths: `/spotify/v1` (API), `/spotify-accounts` (authorize, api/token), `/youtube/v3`,
`/google` (o/oauth2/v2/auth, token), `/fakestore`, and `/_fake/...` for control (faults,
tokens, new plays) which faults never touch.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from trackline.fakeapi.accounts_routes import Authority
from trackline.fakeapi.fakestore_routes import FakeStoreAPI, FakeStoreData
from trackline.fakeapi.faults import Fault, FaultRates, Faults
from trackline.fakeapi.spotify_routes import SpotifyAPI, SpotifyData
from trackline.fakeapi.youtube_routes import YouTubeAPI, YouTubeData

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass
class FakeAPI:
    """Everything the fakes know; tests reach in here to script faults and check effects."""

    spotify: SpotifyData = field(default_factory=SpotifyData)
    youtube: YouTubeData = field(default_factory=YouTubeData)
    fakestore: FakeStoreData = field(default_factory=FakeStoreData)
    spotify_auth: Authority = field(default_factory=lambda: Authority("spotify"))
    google_auth: Authority = field(default_factory=lambda: Authority("google"))
    faults: Faults = field(default_factory=Faults)
    base_url: str = "http://127.0.0.1"
    next_base: str | None = None  # misbehave: Spotify `next` links on this other base

    @classmethod
    def create(
        cls,
        *,
        seed: int = 7,
        rates: FaultRates | None = None,
        token_ttl: float = 3600.0,
        plays_per_user: int = 120,
        window: int | None = 50,
        carts_file: Path | None = None,
        youtube_quota: int = 10_000,
        extended_quota: bool = False,
        extras: bool = False,
    ) -> FakeAPI:
        """`extended_quota`: Spotify's Extended Quota shapes instead of the 2026 Development
        Mode ones; `extras`: playlists and plays also hold a podcast episode, a local file and a
        track with a null name (see spotify_routes.py)."""
        spotify = SpotifyData(
            plays_per_user=plays_per_user,
            window=window,
            seed=seed,
            extended_quota=extended_quota,
            extras=extras,
        )
        return cls(
            spotify=spotify,
            youtube=YouTubeData(seed=seed, daily_quota=youtube_quota),
            fakestore=FakeStoreData(seed=seed, path=carts_file),
            spotify_auth=Authority("spotify", token_ttl=token_ttl),
            google_auth=Authority("google", token_ttl=token_ttl),
            faults=Faults(rates or FaultRates(seed=seed)),
        )

    def env(self) -> dict[str, str]:
        """TRACKLINE_* settings that point the connectors at this fake."""
        b = self.base_url
        return {
            "TRACKLINE_SPOTIFY_API_URL": f"{b}/spotify/v1",
            "TRACKLINE_SPOTIFY_ACCOUNTS_URL": f"{b}/spotify-accounts",
            "TRACKLINE_SPOTIFY_CLIENT_ID": "fake-spotify-client",
            "TRACKLINE_YOUTUBE_API_URL": f"{b}/youtube/v3",
            "TRACKLINE_YOUTUBE_ACCOUNTS_URL": f"{b}/google/o/oauth2/v2",
            "TRACKLINE_YOUTUBE_TOKEN_URL": f"{b}/google/token",
            "TRACKLINE_YOUTUBE_CLIENT_ID": "fake-google-client",
            "TRACKLINE_FAKESTORE_API_URL": f"{b}/fakestore",
        }

    def settings_overrides(self) -> dict[str, str]:
        return {k.removeprefix("TRACKLINE_").lower(): v for k, v in self.env().items()}


def build_app(fake: FakeAPI) -> Starlette:
    def bearer(auth: Authority) -> Callable[[Request], str | Response]:
        def check(request: Request) -> str | Response:
            user, why = auth.user_for(request.headers.get("authorization"))
            if user is None:
                return JSONResponse(
                    {"error": {"status": 401, "code": 401, "message": why}}, status_code=401
                )
            return user

        return check

    spotify = SpotifyAPI(
        fake.spotify, lambda: fake.next_base or fake.base_url, bearer(fake.spotify_auth)
    )
    youtube = YouTubeAPI(fake.youtube, bearer(fake.google_auth))
    store = FakeStoreAPI(fake.fakestore)
    routes: list[BaseRoute] = []
    for r in [*spotify.routes(), *youtube.routes(), *store.routes()]:
        assert isinstance(r, Route)
        routes.append(Route(r.path, _faulty(fake.faults, r.endpoint), methods=r.methods))
    routes += [
        Route("/spotify-accounts/authorize", fake.spotify_auth.authorize),
        Route("/spotify-accounts/api/token", _faulty(fake.faults, fake.spotify_auth.token),
              methods=["POST"]),
        Route("/google/o/oauth2/v2/auth", fake.google_auth.authorize),
        Route("/google/token", _faulty(fake.faults, fake.google_auth.token), methods=["POST"]),
        Route("/_fake/faults", _control_faults(fake), methods=["POST", "DELETE"]),
        Route("/_fake/tokens", _control_tokens(fake), methods=["POST"]),
        Route("/_fake/plays", _control_plays(fake), methods=["POST"]),
        Route("/_fake/health", _health),
    ]  # fmt: skip
    return Starlette(routes=routes)


def _faulty(faults: Faults, endpoint: Any) -> Endpoint:
    async def wrapped(request: Request) -> Response:
        requested = request.headers.get("x-fake-fault") or request.query_params.get("_fault")
        try:
            fault = faults.decide(request.url.path, requested)
        except ValueError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        if faults.rates.slow_ms:
            await asyncio.sleep(faults.rates.slow_ms / 1000)
        if fault is not None and fault.kind == "late":  # act first, answer late
            done: Response = await endpoint(request)
            await asyncio.sleep(fault.value / 1000)
            return done
        if fault is not None and fault.kind == "null":  # answer, one entry of the page null
            return _null_entry(await endpoint(request), int(fault.value))
        if fault is not None:
            answered = await _apply(fault)
            if answered is not None:
                return answered
        response: Response = await endpoint(request)
        return response

    return wrapped


def _null_entry(response: Response, at: int) -> Response:
    """`response` with entry `at` of its `items` list replaced by `null` (the list keeps its
    length); a body without such a list is answered as it was."""
    try:
        body = json.loads(bytes(response.body))
    except ValueError:
        return response
    entries = body.get("items") if isinstance(body, dict) else None
    if not isinstance(entries, list) or not entries:
        return response
    entries[min(max(at, 0), len(entries) - 1)] = None
    return JSONResponse(body, status_code=response.status_code)


async def _apply(fault: Fault) -> Response | None:
    if fault.kind == "slow":
        await asyncio.sleep(fault.value / 1000)
        return None
    if fault.kind == "429":
        headers = {} if fault.value < 0 else {"Retry-After": f"{fault.value:g}"}
        body = {"error": {"status": 429, "message": "API rate limit exceeded"}}
        return JSONResponse(body, status_code=429, headers=headers)
    if fault.kind == "429quota":
        body = {"error": {"status": 429, "message": "QUOTA_EXCEEDED"}}
        return JSONResponse(body, status_code=429, headers={"Retry-After": "86400"})
    if fault.kind == "403quota":
        body = {"error": {"code": 403, "errors": [{"reason": "quotaExceeded"}]}}
        return JSONResponse(body, status_code=403)
    if fault.kind in ("403", "404"):  # Spotify's refusal bodies (2026)
        status = int(fault.kind)
        message = "Forbidden" if status == 403 else "Resource not found"
        return JSONResponse({"error": {"status": status, "message": message}}, status)
    if fault.kind == "500":
        return JSONResponse({"error": {"status": 500, "message": "Server error"}}, 500)
    if fault.kind == "401":
        return JSONResponse({"error": {"status": 401, "message": "The access token expired"}}, 401)
    return Response(b'{"items": [{"track": {"id": "x"', media_type="application/json")


def _control_faults(fake: FakeAPI) -> Endpoint:
    async def handle(request: Request) -> Response:
        if request.method == "DELETE":
            fake.faults.clear()
            return JSONResponse({"cleared": True})
        body = await request.json()
        try:
            fake.faults.script(str(body.get("path", "/")), [str(f) for f in body["faults"]])
        except (KeyError, ValueError) as exc:
            return PlainTextResponse(f"bad fault script: {exc}", status_code=400)
        return JSONResponse({"queued": len(body["faults"])})

    return handle


def _control_tokens(fake: FakeAPI) -> Endpoint:
    async def handle(request: Request) -> Response:
        body = await request.json()
        auth = fake.google_auth if body.get("provider") == "youtube" else fake.spotify_auth
        user = str(body["user"])
        if body.get("revoke"):
            auth.revoke(user)
            return JSONResponse({"revoked": user})
        return JSONResponse({"refresh_token": auth.issue_refresh_token(user)})

    return handle


def _control_plays(fake: FakeAPI) -> Endpoint:
    async def handle(request: Request) -> Response:
        body = await request.json()
        fake.spotify.add_plays(str(body["user"]), int(body.get("count", 10)))
        return JSONResponse({"added": int(body.get("count", 10))})

    return handle


async def _health(request: Request) -> Response:
    return JSONResponse({"ok": True})


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # threads cannot take signals
        pass


@contextmanager
def serve(fake: FakeAPI | None = None, *, port: int = 0) -> Iterator[FakeAPI]:
    """Run the fakes on 127.0.0.1 in a background thread (port 0 = a free one)."""
    fake = fake or FakeAPI.create()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    fake.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        build_app(fake), log_level="warning", access_log=False, lifespan="off", backlog=512
    )
    server = _Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="trackline-fake-api"
    )
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the fake API server did not start")
        threading.Event().wait(0.01)
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def run_forever(fake: FakeAPI, port: int) -> None:
    """Foreground server for `trackline fake-api` (Ctrl-C stops it)."""
    fake.base_url = f"http://127.0.0.1:{port}"
    uvicorn.run(build_app(fake), host="127.0.0.1", port=port, log_level="warning")
