"""Fixtures for connector tests: a fake API server over real HTTP and the real state store
(SQLite under the test's home, tokens encrypted at rest)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from trackline.config import Settings
from trackline.fakeapi import FakeAPI, serve
from trackline.state import StateStore, open_state


@pytest.fixture
def fake() -> Iterator[FakeAPI]:
    with serve(FakeAPI.create()) as api:
        yield api


@pytest.fixture
def settings(fake: FakeAPI, tmp_path: Path) -> Settings:
    return Settings.load(
        home=tmp_path / "home",
        http_backoff_seconds=0.01,
        http_backoff_max_seconds=0.05,
        **fake.settings_overrides(),
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[StateStore]:
    state = open_state(settings)
    try:
        yield state
    finally:
        state.close()


def connect(fake: FakeAPI, store: StateStore, user: str, provider: str = "spotify") -> str:
    """Add `user` with a refresh token the fake's accounts service issued (as `users add`)."""
    auth = fake.spotify_auth if provider == "spotify" else fake.google_auth
    token = auth.issue_refresh_token(user)
    store.add_user(user)
    store.set_refresh_token(user, provider, token)
    return token


class Elsewhere:
    """A real HTTP server on another origin (another port) that records what reaches it: a
    stand-in for a host that must never see a token. It answers like a refusing API."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        box = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(size) if size else b""
                box.seen.append((self.command, self.path, dict(self.headers), body))
                payload = b'{"error": "invalid_grant", "items": [], "next": null}'
                self.send_response(400 if self.command == "POST" else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _record

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def elsewhere() -> Iterator[Elsewhere]:
    other = Elsewhere()
    try:
        yield other
    finally:
        other.close()
