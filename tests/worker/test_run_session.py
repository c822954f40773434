"""run_session against the fake APIs: each handled case gets its status and a clear message."""

from __future__ import annotations

import logging

import pytest

from tests.warehouse_rows import warehouse_rows
from tests.worker.conftest import connect
from trackline.config import Settings
from trackline.core.logctx import ContextFilter
from trackline.fakeapi import FakeAPI
from trackline.pipelines.generated import GeneratedPipeline
from trackline.sessions.runner import run_session
from trackline.state import StateStore


def test_session_fetches_every_active_member_and_records_outcomes(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    for u in ("ana", "ben", "cy"):
        connect(fake, store, u)
    store.set_active("cy", False)
    session = store.create_session(["ana", "ben", "cy"])
    run = run_session(settings, store, session.session_id, "w1")
    assert run.result == "done" and run.status == "done"
    found = store.get_session(session.session_id)
    assert found is not None and found.status == "done" and found.error is None
    assert set(found.outcomes) == {"ana", "ben"}  # the inactive member is not fetched
    assert all(found.outcomes[u]["status"] == "ok" for u in ("ana", "ben"))
    run_ids = {r for o in run.outcomes.values() for r in o.runs.values()}
    assert run_ids and run_ids == set(found.run_ids)
    users = {r[0] for r in warehouse_rows(settings, "SELECT DISTINCT user_id FROM listens")}
    assert users == {"ana", "ben"}
    added = sum(found.outcomes[u]["added"] for u in ("ana", "ben"))
    total = sum(
        warehouse_rows(settings, f"SELECT count(*) FROM {t}")[0][0]  # type: ignore[misc]
        for t in ("listens", "playlist_tracks", "top_tracks", "top_artists")
    )
    assert added == total


def test_second_delivery_does_not_run_again(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    connect(fake, store, "ana")
    sid = store.create_session(["ana"]).session_id
    assert run_session(settings, store, sid, "w1").result == "done"
    requests = fake.spotify_auth  # any later fetch would refresh a token again
    before = len(requests._refresh)
    again = run_session(settings, store, sid, "w2")
    assert again.result == "already_finished" and not again.ran
    assert len(requests._refresh) == before
    assert [c.status for c in store.session_timeline(sid)] == ["pending", "running", "done"]


def test_a_running_session_is_not_taken_over_before_its_lease_ends(
    settings: Settings, store: StateStore
) -> None:
    store.add_user("ana")
    sid = store.create_session(["ana"]).session_id
    assert store.claim_session(sid, "w1", 60)
    run = run_session(settings, store, sid, "w2", pipeline=GeneratedPipeline(settings))
    assert run.result == "already_running" and "w1" in run.message
    assert store.get_session(sid).outcomes == {}  # type: ignore[union-attr]


def test_no_active_members_is_an_error_with_what_to_do(
    settings: Settings, store: StateStore
) -> None:
    store.add_user("ana")
    store.set_active("ana", False)
    sid = store.create_session(["ana"]).session_id
    run = run_session(settings, store, sid, "w1")
    found = store.get_session(sid)
    assert run.result == "error" and found is not None and found.status == "error"
    assert found.error is not None and "no active members" in found.error
    assert "ana" in found.error


def test_revoked_token_needs_reauth_and_the_others_go_on(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    connect(fake, store, "ana")
    connect(fake, store, "ben")
    fake.spotify_auth.revoke("ben")
    sid = store.create_session(["ana", "ben"]).session_id
    run = run_session(settings, store, sid, "w1")
    found = store.get_session(sid)
    assert found is not None and found.status == "done"
    assert found.outcomes["ana"]["status"] == "ok"
    assert found.outcomes["ben"]["status"] == "needs_reauth"
    assert "trackline auth spotify --user ben" in found.outcomes["ben"]["message"]
    user = store.get_user("ben")
    assert user is not None and user.providers["spotify"] == "needs_reauth"
    assert "1 needs_reauth" in run.message


def test_everyone_revoked_is_an_error_saying_to_reauthorise(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    connect(fake, store, "ana")
    fake.spotify_auth.revoke("ana")
    sid = store.create_session(["ana"]).session_id
    run_session(settings, store, sid, "w1")
    found = store.get_session(sid)
    assert found is not None and found.status == "error"
    assert found.error is not None and "re-authorise" in found.error


def test_api_outage_is_an_error_that_says_so(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    connect(fake, store, "ana")
    fake.faults.script("/spotify/v1", ["500"] * 50)
    sid = store.create_session(["ana"]).session_id
    run_session(settings, store, sid, "w1")
    found = store.get_session(sid)
    assert found is not None and found.status == "error"
    assert found.outcomes["ana"]["status"] == "api_unavailable"
    assert found.error is not None and "api_unavailable" in found.error
    assert "later" in found.error


def test_schema_violations_are_rejected_rows_not_an_error(
    settings: Settings, store: StateStore
) -> None:
    store.add_user("ana")
    sid = store.create_session(["ana"]).session_id
    pipe = GeneratedPipeline(settings, count=100, invalid_share=0.2)
    run = run_session(settings, store, sid, "w1", pipeline=pipe)
    found = store.get_session(sid)
    assert found is not None and found.status == "done"
    outcome = found.outcomes["ana"]
    assert outcome["status"] == "ok" and outcome["rejected"] > 0
    assert outcome["added"] + outcome["rejected"] + outcome["duplicates"] == 100
    assert f"{outcome['rejected']} rejected" in run.message


def test_zero_valid_rows_is_done_and_points_at_the_rejections(
    settings: Settings, store: StateStore
) -> None:
    store.add_user("ana")
    sid = store.create_session(["ana"]).session_id
    pipe = GeneratedPipeline(settings, count=30, invalid_share=1.0)
    run = run_session(settings, store, sid, "w1", pipeline=pipe)
    found = store.get_session(sid)
    assert found is not None and found.status == "done"
    assert found.outcomes["ana"]["status"] == "no_valid_rows"
    assert "no valid rows" in run.message and "meta.rejected" in run.message


def test_a_crashing_pipeline_fails_only_its_member(settings: Settings, store: StateStore) -> None:
    store.add_user("ana")
    store.add_user("ben")
    good = GeneratedPipeline(settings, count=20)

    def pipe(s: Settings, st: StateStore, user_id: str):  # type: ignore[no-untyped-def]
        if user_id == "ben":
            raise RuntimeError("boom")
        return good(s, st, user_id)

    sid = store.create_session(["ana", "ben"]).session_id
    run_session(settings, store, sid, "w1", pipeline=pipe)
    found = store.get_session(sid)
    assert found is not None and found.status == "done"
    assert found.outcomes["ben"]["status"] == "failed"
    assert "RuntimeError: boom" in found.outcomes["ben"]["message"]


def test_every_log_line_of_a_session_carries_its_id(
    settings: Settings, store: StateStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.add_user("ana")
    sid = store.create_session(["ana"]).session_id
    caplog.handler.addFilter(ContextFilter())
    with caplog.at_level(logging.INFO, logger="trackline"):
        run_session(settings, store, sid, "w1", pipeline=GeneratedPipeline(settings, count=20))
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("trackline")]
    assert any(r.name == "trackline.engine" for r in caplog.records)  # not only the worker's
    assert lines and all(f"session_id={sid}" in line for line in lines)
    assert all(line.count("session_id=") == 1 for line in lines)
