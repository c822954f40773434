"""The demo's session step: the fake APIs' listeners get a session, and a worker runs it.

Creating the session announces it on the bus like any other; the worker here is the same
`run_session` the push endpoint and the pull loop call, in-process so the demo needs no server.
"""

from __future__ import annotations

from trackline import sessions
from trackline.config import Settings
from trackline.fakeapi import FakeAPI, serve
from trackline.sessions.runner import SessionRun, run_session
from trackline.state import open_state

DEMO_MEMBERS = ("demo_ana", "demo_ben", "demo_cy")


def run_session_demo(settings: Settings) -> SessionRun:
    with serve(FakeAPI.create()) as fake:
        s = settings.model_copy(update=fake.settings_overrides())
        store = open_state(s)
        try:
            for user in DEMO_MEMBERS:
                store.add_user(user)
                store.set_refresh_token(
                    user, "spotify", fake.spotify_auth.issue_refresh_token(user)
                )
            session = sessions.create_session(s, store, list(DEMO_MEMBERS))
            return run_session(s, store, session.session_id, "demo-worker")
        finally:
            store.close()
