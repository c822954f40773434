"""Spotify connector against the fake over real HTTP: tokens, cursor, gap, failures, leaks."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tests.sources.conftest import connect
from trackline.auth.oauth import oauth_app
from trackline.auth.tokens import TokenManager
from trackline.config import Settings
from trackline.core import duck
from trackline.core.http import HttpClient
from trackline.errors import NeedsReauthError
from trackline.fakeapi import FakeAPI
from trackline.pipelines.base import open_pipeline
from trackline.pipelines.fetch import fetch_user, fetch_users
from trackline.state import StateStore


def _count(settings: Settings, sql: str) -> int:
    con = duck.connect(settings.warehouse, read_only=True)
    try:
        row = con.execute(sql).fetchone()
        assert row is not None
        return int(row[0])
    finally:
        con.close()


def test_fetch_lands_every_dataset_and_rerun_adds_nothing(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    connect(fake, store, "alice")
    first = fetch_user(settings, "spotify", "alice", state=store)
    assert first.status == "ok", first.error
    assert first.fetched["listens"] == 50  # Spotify's window
    assert set(first.added) == {"listens", "top_tracks", "top_artists", "playlist_tracks"}
    assert first.added["top_tracks"] == 150  # 3 time ranges x 50
    raw = Path(settings.lake) / "raw" / "listens"
    assert list(raw.glob("date=*/run_id=*/part-*"))
    second = fetch_user(settings, "spotify", "alice", state=store)
    assert second.status == "ok"
    assert sum(second.added.values()) == 0
    assert _count(settings, "SELECT count(*) FROM listens") == 50
    genres = _count(settings, "SELECT count(*) FROM listens WHERE genre IS NOT NULL")
    assert genres > 0


def test_cursor_fetches_only_new_plays_and_reports_a_gap(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    connect(fake, store, "bob")
    fetch_user(settings, "spotify", "bob", state=store)
    cursor = store.get_cursor("spotify:recently_played:bob")
    assert cursor is not None
    fake.spotify.add_plays("bob", 7)
    second = fetch_user(settings, "spotify", "bob", state=store)
    assert second.fetched["listens"] == 7 and second.added["listens"] == 7
    assert not any("gap" in n for n in second.notes)
    assert int(store.get_cursor("spotify:recently_played:bob") or 0) > int(cursor)
    fake.spotify.add_plays("bob", 80)
    third = fetch_user(settings, "spotify", "bob", state=store)
    assert third.fetched["listens"] == 50
    assert any("gap" in n for n in third.notes)


def _refresh_tokens_issued(fake: FakeAPI) -> list[str]:
    """Every refresh token the fake accounts service handed out, oldest first."""
    return [t for t in fake.spotify_auth.issued if t.startswith("spr_")]


def _token_writes(caplog: pytest.LogCaptureFixture, user: str) -> int:
    """How many times the real store wrote `user`'s Spotify refresh token (its `token.stored`
    log line; the line names the user, never the token)."""
    line = f"token.stored user_id={user} provider=spotify"
    return sum(r.getMessage() == line for r in caplog.records)


def test_401_refreshes_and_stores_the_rotated_refresh_token(
    fake: FakeAPI, settings: Settings, store: StateStore, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="trackline.state"):
        original = connect(fake, store, "carol")
        fake.faults.script("/spotify/v1/me/top", ["401"])
        result = fetch_user(settings, "spotify", "carol", state=store)
    assert result.status == "ok", result.error
    issued = _refresh_tokens_issued(fake)
    assert len(issued) == 3 and issued[0] == original  # connect, first refresh, after the 401
    assert _token_writes(caplog, "carol") == 3  # each of them was written to the store
    assert store.get_refresh_token("carol", "spotify") == issued[-1] != original
    assert fake.spotify_auth.refreshes == 2


def test_expired_access_token_is_refreshed_before_the_call(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    original = connect(fake, store, "dan")
    now = [1000.0]
    with HttpClient() as http:
        tm = TokenManager(store, http, oauth_app(settings, "spotify"), "dan", clock=lambda: now[0])
        first = tm.headers()
        assert tm.headers() == first
        rotated = store.get_refresh_token("dan", "spotify")
        assert rotated == _refresh_tokens_issued(fake)[-1] != original  # stored at once
        now[0] += 4000  # past expires_in
        second = tm.headers()
        assert second != first
        assert tm.refreshes == 2
        again = store.get_refresh_token("dan", "spotify")
        assert again == _refresh_tokens_issued(fake)[-1] not in (original, rotated)
        tm.invalidate()  # what a 401 does
        assert tm.headers() not in (first, second)
        assert tm.refreshes == 3
        assert store.get_refresh_token("dan", "spotify") == _refresh_tokens_issued(fake)[-1]
        assert len(_refresh_tokens_issued(fake)) == 4


def test_invalid_grant_marks_needs_reauth_and_others_go_on(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    connect(fake, store, "erin")
    connect(fake, store, "frank")
    fake.spotify_auth.revoke("erin")
    summary = fetch_users(settings, "spotify", ["erin", "frank"], state=store)
    by_user = {r.user_id: r for r in summary.results}
    assert by_user["erin"].status == "needs_reauth"
    assert "trackline auth spotify" in (by_user["erin"].error or "")
    assert by_user["frank"].status == "ok"
    user = store.get_user("erin")
    assert user is not None and user.providers["spotify"] == "needs_reauth"
    with HttpClient() as http, pytest.raises(NeedsReauthError):
        TokenManager(store, http, oauth_app(settings, "spotify"), "erin").headers()


def test_malformed_response_becomes_a_rejected_record_with_reason(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    connect(fake, store, "gina")
    fake.faults.script("/spotify/v1/me/player/recently-played", ["malformed"] * 5)
    result = fetch_user(settings, "spotify", "gina", state=store)
    assert result.rejected["listens"] == 1
    assert result.rejected_by_reason["listens"] == {"malformed": 1}
    assert any("not JSON" in n for n in result.notes)
    assert store.get_cursor("spotify:recently_played:gina") is None


def test_bad_record_is_rejected_with_reason(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    connect(fake, store, "hugo")
    fake.spotify.bad_play_every = 3
    result = fetch_user(settings, "spotify", "hugo", state=store)
    assert result.rejected["listens"] > 0
    assert "type:played_at" in result.rejected_by_reason["listens"]
    assert result.added["listens"] + result.rejected["listens"] == 50


def test_quota_exceeded_stops_only_that_user(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    connect(fake, store, "ivy")
    fake.faults.script("/spotify/v1/me", ["429quota"])
    result = fetch_user(settings, "spotify", "ivy", state=store)
    assert result.status == "rate_limited" and "QUOTA_EXCEEDED" in (result.error or "")


def test_no_token_is_ever_printed(
    fake: FakeAPI,
    settings: Settings,
    store: StateStore,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    connect(fake, store, "jay")
    connect(fake, store, "kim")
    fake.spotify_auth.revoke("kim")
    fake.faults.script("/spotify/v1/me/top", ["401", "500", "429:0"])
    with caplog.at_level(logging.DEBUG):
        summary = fetch_users(settings, "spotify", ["jay", "kim"], state=store)
    text = caplog.text + json.dumps(summary.as_dict()) + "".join(capsys.readouterr())
    lake_text = "".join(
        p.read_text(errors="replace") for p in Path(settings.lake).rglob("*") if p.is_file()
        and p.suffix in (".json", ".ndjson", ".md", ".html")
    )  # fmt: skip
    tokens = fake.spotify_auth.issued
    assert len(tokens) >= 4
    for token in tokens:
        assert token not in text
        assert token not in lake_text


def test_rotated_tokens_are_encrypted_at_rest_and_reauth_users_are_skipped(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    """The rotated token lands in the SQLite files (database and WAL) encrypted, and a user
    needing re-authorisation is reported on the next run, not called."""
    connect(fake, store, "luz")
    connect(fake, store, "max")
    fake.spotify_auth.revoke("max")
    summary = fetch_users(settings, "spotify", state=store)
    by_user = {r.user_id: r for r in summary.results}
    assert by_user["luz"].status == "ok" and by_user["max"].status == "needs_reauth"
    luz = store.get_refresh_token("luz", "spotify")
    assert luz is not None and luz == _refresh_tokens_issued(fake)[-1]  # the rotated one
    assert store.get_cursor("spotify:recently_played:luz")
    user = store.get_user("max")
    assert user is not None and user.providers["spotify"] == "needs_reauth"
    refreshes = fake.spotify_auth.refreshes
    again = fetch_users(settings, "spotify", state=store)  # max is reported, not called
    assert {r.user_id: r.status for r in again.results}["max"] == "needs_reauth"
    assert fake.spotify_auth.refreshes == refreshes + 1  # luz's refresh only
    files = list(settings.home.glob("state.db*"))
    assert files
    for token in _refresh_tokens_issued(fake):
        assert all(token.encode() not in f.read_bytes() for f in files)


def test_one_closed_or_lost_playlist_loses_only_its_own_items(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    """#25 point 2: a playlist answering 403 (closed to the app) or 404 (gone) is named with
    its reason, as permanent, and every other playlist's items are stored."""
    connect(fake, store, "nora")
    closed, lost, kept = fake.spotify.playlist_ids("nora")
    fake.spotify.close_playlist(closed)
    fake.spotify.lose_playlist(lost)
    kept_items = len(fake.spotify.user("nora").playlists[2][2])
    result = fetch_user(settings, "spotify", "nora", state=store)
    assert result.status == "partial"
    assert result.fetched["playlist_tracks"] == kept_items
    assert result.added["playlist_tracks"] == kept_items
    assert _count(settings, "SELECT count(*) FROM playlist_tracks") == kept_items
    assert _count(settings, f"SELECT count(*) FROM playlist_tracks WHERE playlist_id='{kept}'")
    by_endpoint = {f["endpoint"]: f for f in result.failures}
    assert set(by_endpoint) == {f"playlist:{closed}", f"playlist:{lost}"}
    refused, missing = by_endpoint[f"playlist:{closed}"], by_endpoint[f"playlist:{lost}"]
    assert refused["http_status"] == 403 and refused["permanent"] is True
    assert "closed to this app" in refused["reason"]
    assert missing["http_status"] == 404 and missing["permanent"] is True
    assert "not found" in missing["reason"]
    names = {p[0]: p[1] for p in fake.spotify.user("nora").playlists}
    assert refused["name"] == names[closed] and missing["name"] == names[lost]
    assert closed in (result.error or "") and names[closed] in (result.error or "")
    # the other datasets are untouched
    assert result.added["listens"] == 50 and result.added["top_tracks"] == 150


def test_a_permanent_refusal_is_told_apart_from_a_transient_failure(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    """A 403 on an endpoint is `partial` with the endpoint and reason, marked permanent; a 5xx
    that outlasts the client's retries is marked transient."""
    connect(fake, store, "omar")
    closed = fake.spotify.playlist_ids("omar")[0]
    fake.spotify.close_playlist(closed)
    fake.faults.script("/spotify/v1/me/top/artists", ["500"] * 20)
    result = fetch_user(settings, "spotify", "omar", state=store)
    assert result.status == "partial"
    doc = result.as_dict()
    failures = {f["endpoint"]: f for f in doc["failures"]}
    assert failures[f"playlist:{closed}"]["permanent"] is True
    transient = [f for f in doc["failures"] if not f["permanent"]]
    assert transient and all(f["endpoint"].startswith("top_artists:") for f in transient)
    assert all(f["http_status"] is None for f in transient)
    assert "[refused, permanent]" in (doc["error"] or "")
    assert "[transient, try again later]" in (doc["error"] or "")
    assert doc["added"]["playlist_tracks"] > 0 and doc["added"]["top_tracks"] == 150


def test_session_outcome_lists_the_closed_playlist(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    """What a session worker records for the member: partial, the playlist named with why."""
    connect(fake, store, "pia")
    closed = fake.spotify.playlist_ids("pia")[1]
    fake.spotify.close_playlist(closed)
    outcome = open_pipeline(settings, "connectors")(settings, store, "pia")
    assert outcome.status == "partial" and outcome.handled
    assert closed in outcome.message and "closed to this app" in outcome.message
    [failure] = outcome.as_dict()["failures"]
    assert failure["provider"] == "spotify" and failure["endpoint"] == f"playlist:{closed}"
    assert failure["http_status"] == 403 and failure["permanent"] is True
    assert outcome.added > 0


def test_a_403_on_an_endpoint_is_a_permanent_partial_and_the_rest_is_stored(
    fake: FakeAPI, settings: Settings, store: StateStore
) -> None:
    """An endpoint refused to the app for good (403 on the batch artists endpoint and on the
    single one too) is named as permanent; plays, tops and playlists still land, with no
    genre, and the user's notes say why."""
    connect(fake, store, "quin")
    fake.faults.script("/spotify/v1/artists", ["403"] * 12)
    result = fetch_user(settings, "spotify", "quin", state=store)
    assert result.status == "partial"
    [failure] = result.failures
    assert failure["endpoint"] == "artists" and failure["http_status"] == 403
    assert failure["permanent"] is True and "403 Forbidden" in failure["reason"]
    assert any("refused too: genres are left empty" in n for n in result.notes)
    assert result.added["listens"] == 50 and result.added["playlist_tracks"] > 0
    assert _count(settings, "SELECT count(*) FROM listens WHERE genre IS NOT NULL") == 0
