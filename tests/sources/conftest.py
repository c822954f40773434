"""Fixtures for connector tests: a fake API server over real HTTP and the real state store
(SQLite under the test's home, tokens encrypted at rest)."""

from __future__ import annotations

from collections.abc import Iterator
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
