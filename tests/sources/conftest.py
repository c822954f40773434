"""Fixtures for connector tests: a fake API server over real HTTP and a tiny state store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sources.sqlite_state import SQLiteState
from trackline.config import Settings
from trackline.fakeapi import FakeAPI, serve


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
def store(tmp_path: Path) -> SQLiteState:
    return SQLiteState(tmp_path / "state.db")


def connect(fake: FakeAPI, store: SQLiteState, user: str, provider: str = "spotify") -> str:
    auth = fake.spotify_auth if provider == "spotify" else fake.google_auth
    token = auth.issue_refresh_token(user)
    store.set_refresh_token(user, provider, token)
    return token
