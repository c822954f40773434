"""Fixtures for the session worker: the fake APIs over real HTTP and a real SQLite store."""

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
        http_max_attempts=2,
        worker_lease_seconds=30,
        **fake.settings_overrides(),
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[StateStore]:
    s = open_state(settings)
    yield s
    s.close()


def connect(fake: FakeAPI, store: StateStore, user: str, provider: str = "spotify") -> None:
    """Add the user with a refresh token the fake issued (as `trackline auth` would)."""
    store.add_user(user)
    auth = fake.spotify_auth if provider == "spotify" else fake.google_auth
    store.set_refresh_token(user, provider, auth.issue_refresh_token(user))
