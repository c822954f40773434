"""A friend group on the fake APIs: ana, ben and cy on Spotify (cy's token revoked), ben on
YouTube too."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from trackline.config import Settings
from trackline.fakeapi import FakeAPI, serve
from trackline.state import open_state
from trackline.state.groups import create_group

GROUP = "club"
MEMBERS = ("ana", "ben", "cy")


@dataclass
class Club:
    fake: FakeAPI
    overrides: dict[str, Any]  # JSON-ready settings for another process
    settings: Settings


@pytest.fixture
def fake() -> Iterator[FakeAPI]:
    with serve(FakeAPI.create(plays_per_user=40)) as api:
        yield api


@pytest.fixture
def club(fake: FakeAPI, tmp_path: Path) -> Club:
    overrides: dict[str, Any] = {
        "home": str(tmp_path / "home"),
        "http_backoff_seconds": 0.01,
        "http_backoff_max_seconds": 0.05,
        "http_max_attempts": 2,
        **fake.settings_overrides(),
    }
    settings = Settings.load(**overrides)
    store = open_state(settings)
    try:
        for user in MEMBERS:
            store.add_user(user)
            store.set_refresh_token(user, "spotify", fake.spotify_auth.issue_refresh_token(user))
        store.set_refresh_token("ben", "youtube", fake.google_auth.issue_refresh_token("ben"))
        create_group(store, GROUP, list(MEMBERS))
    finally:
        store.close()
    fake.spotify_auth.revoke("cy")  # cy's fetch fails: invalid_grant, a permanent failure
    return Club(fake, overrides, settings)
