"""The demo's API step: start the fake APIs in-process, connect a demo listener with a token,
and fetch Spotify, YouTube and Fake Store through the same path a real fetch takes."""

from __future__ import annotations

from trackline.config import Settings
from trackline.fakeapi import FakeAPI, serve
from trackline.pipelines.fetch import UserFetchResult, fetch_user
from trackline.state.connectors import Locked, open_connector_state

DEMO_USER = "demo_listener"


def run_api_demo(settings: Settings) -> list[UserFetchResult]:
    with serve(FakeAPI.create()) as fake:
        s = settings.model_copy(update=fake.settings_overrides())
        results = [fetch_user(s, "fakestore", "fakestore")]
        store = Locked(open_connector_state(s))
        try:
            store.add_user(DEMO_USER)
            store.set_refresh_token(
                DEMO_USER, "spotify", fake.spotify_auth.issue_refresh_token(DEMO_USER)
            )
            store.set_refresh_token(
                DEMO_USER, "youtube", fake.google_auth.issue_refresh_token(DEMO_USER)
            )
            for provider in ("spotify", "youtube"):
                results.append(fetch_user(s, provider, DEMO_USER, state=store))
        finally:
            store.close()
        return results
