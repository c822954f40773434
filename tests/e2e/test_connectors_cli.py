"""The connector commands as a user runs them, against the fake APIs in this process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import CLI
from trackline.fakeapi import FakeAPI, serve


@pytest.fixture
def fake() -> Iterator[FakeAPI]:
    with serve(FakeAPI.create()) as api:
        yield api


def test_fetch_fakestore_json_then_again_adds_nothing(cli: CLI, fake: FakeAPI) -> None:
    first = cli("fetch", "fakestore", "--json", extra_env=fake.env())
    assert first.code == 0, first.err
    doc = first.json()
    assert doc["users"][0]["added"]["products"] == 20 and doc["failed"] == 0
    second = cli("fetch", "fakestore", "--json", extra_env=fake.env())
    assert sum(second.json()["users"][0]["added"].values()) == 0


def test_fetch_spools_when_the_lake_is_unreachable_then_flush(
    cli: CLI, fake: FakeAPI, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    env = {**fake.env(), "TRACKLINE_LAKE_URI": str(blocker / "lake")}
    failed = cli("fetch", "fakestore", extra_env=env)
    assert failed.code == 1
    assert "spool flush" in failed.err
    flushed = cli("spool", "flush", "--json", extra_env=fake.env())
    assert flushed.code == 0, flushed.err
    assert flushed.json()["pending"] == 0
    assert flushed.json()["flushed"][0]["added"]["users"] == 10


def test_import_spotify_export_cli(cli: CLI, tmp_path: Path) -> None:
    src = tmp_path / "StreamingHistory0.json"
    src.write_text(
        json.dumps(
            [{"endTime": "2023-01-05 14:32", "artistName": "A", "trackName": "B", "msPlayed": 1000}]
        )
    )
    res = cli("import", "spotify-export", str(src), "--user", "u1", "--json")
    assert res.code == 0, res.err
    assert res.json()["counts"]["valid"] == 1
    missing = cli("import", "spotify-export", str(src))
    assert missing.code == 2 and "--user" in missing.err


def test_unknown_provider_is_a_usage_error(cli: CLI) -> None:
    res = cli("fetch", "myspace")
    assert res.code == 2 and "expected one of" in res.err


def test_users_add_then_fetch_spotify_never_prints_tokens(cli: CLI, fake: FakeAPI) -> None:
    token = fake.spotify_auth.issue_refresh_token("amy")
    added = cli("users", "add", "amy", "--spotify-refresh-token", token, extra_env=fake.env())
    assert added.code == 0, added.err
    res = cli("--debug", "fetch", "spotify", "--json", extra_env=fake.env())
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["users"][0]["user_id"] == "amy" and doc["users"][0]["added"]["listens"] == 50
    again = cli("fetch", "spotify", "--user", "amy", extra_env=fake.env())
    assert again.code == 0, again.err
    text = added.out + added.err + res.out + res.err + again.out + again.err
    for t in fake.spotify_auth.issued:
        assert t not in text


def test_fetch_spotify_with_a_closed_playlist_is_partial_and_names_it(
    cli: CLI, fake: FakeAPI
) -> None:
    """#25 point 2: `fetch --json` keeps the other playlists, names the closed one with its
    status and reason, exits 1 as partial, and 0 with --allow-partial."""
    token = fake.spotify_auth.issue_refresh_token("ann")
    added = cli("users", "add", "ann", "--spotify-refresh-token", token, extra_env=fake.env())
    assert added.code == 0, added.err
    closed = fake.spotify.playlist_ids("ann")[0]
    fake.spotify.close_playlist(closed)
    res = cli("fetch", "spotify", "--json", extra_env=fake.env())
    assert res.code == 1, res.err
    user = res.json()["users"][0]
    assert user["status"] == "partial" and res.json()["partial"] == 1
    assert user["added"]["playlist_tracks"] > 0 and user["added"]["listens"] == 50
    [failure] = user["failures"]
    assert failure["endpoint"] == f"playlist:{closed}" and failure["http_status"] == 403
    assert failure["permanent"] is True and "closed to this app" in failure["reason"]
    allowed = cli("fetch", "spotify", "--allow-partial", "--json", extra_env=fake.env())
    assert allowed.code == 0, allowed.err
    assert allowed.json()["users"][0]["failures"][0]["endpoint"] == f"playlist:{closed}"
