"""Tokens go only where they belong, and a lost refresh answer is not retried blindly (issue
#24, points 4 and 9): the Spotify connector against the fake over real HTTP, with faults."""

from __future__ import annotations

import time

import pytest

from tests.sources.conftest import Elsewhere, connect
from trackline.auth.oauth import oauth_app
from trackline.auth.tokens import TokenManager
from trackline.config import Settings
from trackline.core.http import HttpClient
from trackline.errors import ConfigError
from trackline.fakeapi import FakeAPI
from trackline.pipelines.fetch import fetch_user
from trackline.state import StateStore


def _status(store: StateStore, user: str) -> str:
    found = store.get_user(user)
    assert found is not None
    return found.providers["spotify"]


def test_a_next_link_to_another_host_never_gets_the_access_token(
    fake: FakeAPI, settings: Settings, store: StateStore, elsewhere: Elsewhere
) -> None:
    connect(fake, store, "alice")
    fake.spotify.window = None  # all 120 plays: recently played has a next page
    fake.next_base = elsewhere.url
    result = fetch_user(settings, "spotify", "alice", state=store)
    assert "refused to follow a next page on another host" in (result.error or "")
    assert elsewhere.seen == []


def test_a_refresh_token_goes_only_to_the_host_that_issued_it(
    fake: FakeAPI, settings: Settings, store: StateStore, elsewhere: Elsewhere
) -> None:
    token = connect(fake, store, "bob")
    assert fetch_user(settings, "spotify", "bob", state=store).status == "ok"
    moved = settings.model_copy(update={"spotify_accounts_url": elsewhere.url})
    with HttpClient() as http:
        tm = TokenManager(store, http, oauth_app(moved, "spotify"), "bob")
        with pytest.raises(ConfigError) as caught:
            tm.headers()
    message = str(caught.value)
    assert "TRACKLINE_SPOTIFY_ACCOUNTS_URL" in message and elsewhere.url in message
    assert fake.base_url in message and "trackline auth spotify --user bob" in message
    result = fetch_user(moved, "spotify", "bob", state=store)
    assert result.status == "failed" and "is not sent there" in (result.error or "")
    assert elsewhere.seen == []  # not a single request, so no token
    assert _status(store, "bob") == "connected"  # the setting is wrong, not the user
    assert store.get_refresh_token("bob", "spotify") not in (None, token)
    assert fetch_user(settings, "spotify", "bob", state=store).status == "ok"


def test_a_lost_refresh_answer_is_not_retried_and_the_rotation_is_explained(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    token = connect(fake, store, "carol")
    slow = settings.model_copy(update={"http_timeout_seconds": 0.4})
    fake.faults.script("/spotify-accounts/api/token", ["late:1500"])
    first = fetch_user(slow, "spotify", "carol", state=store)
    time.sleep(1.3)  # the fake rotated the token, then answered too late
    assert first.status == "failed", first.error
    assert "not repeated" in (first.error or "")
    assert fake.spotify_auth.refreshes == 1  # sent once
    assert _status(store, "carol") == "connected"  # not marked on a guess
    assert store.get_refresh_token("carol", "spotify") == token
    second = fetch_user(settings, "spotify", "carol", state=store)
    assert second.status == "needs_reauth"
    assert "rotated by a request whose answer was lost" in (second.error or "")
    assert "trackline auth spotify --user carol" in (second.error or "")
    assert _status(store, "carol") == "needs_reauth"


def test_a_provider_that_keeps_the_refresh_token_recovers_after_a_lost_answer(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    fake.spotify_auth.rotate = False  # as Google: the refresh token stays the same
    token = connect(fake, store, "dora")
    slow = settings.model_copy(update={"http_timeout_seconds": 0.4})
    fake.faults.script("/spotify-accounts/api/token", ["late:1500"])
    assert fetch_user(slow, "spotify", "dora", state=store).status == "failed"
    time.sleep(1.3)
    again = fetch_user(settings, "spotify", "dora", state=store)
    assert again.status == "ok", again.error
    assert store.get_refresh_token("dora", "spotify") == token  # kept
    assert _status(store, "dora") == "connected"
