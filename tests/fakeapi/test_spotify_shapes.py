"""The fake Spotify over real HTTP serves the February 2026 Development Mode shapes by default
and the Extended Quota shapes on request (#25 point 8), from the library and from
`trackline fake-api`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from trackline.fakeapi import FakeAPI, serve
from trackline.fakeapi.spotify_data import EPISODES, LOCAL

REMOVED_TRACK = {"popularity", "available_markets", "external_ids"}
REMOVED_USER = {"country", "email", "product", "followers"}


class Client:
    def __init__(self, base: str, token: str) -> None:
        self.base = f"{base}/spotify/v1"
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **params: Any) -> httpx.Response:
        url = path if path.startswith("http") else f"{self.base}/{path}"
        return httpx.get(url, params=params or None, headers=self.headers, timeout=10)


@contextmanager
def _fake(**kw: Any) -> Iterator[tuple[FakeAPI, Client]]:
    with serve(FakeAPI.create(extras=True, **kw)) as fake:
        yield fake, Client(fake.base_url, fake.spotify_auth.issue_access_token("zoe"))


def test_development_mode_shapes_by_default() -> None:
    with _fake() as (_, api):
        me = api.get("me").json()
        assert me["id"] == "zoe" and not REMOVED_USER & set(me)
        [pl, *_] = api.get("me/playlists").json()["items"]
        assert pl["tracks"] is None and pl["items"]["href"].endswith(f"/{pl['id']}/items")
        page = api.get(f"playlists/{pl['id']}/items", limit=50).json()
        entries = page["items"]
        assert all("item" in e and "track" not in e for e in entries)
        things = [e["item"] for e in entries]
        assert not any(REMOVED_TRACK & set(t) for t in things if t["type"] == "track")
        episode = next(t for t in things if t["type"] == "episode")
        assert episode["id"] == EPISODES[0].id and episode["show"]["name"] == EPISODES[0].show
        assert "publisher" not in episode["show"]
        [local] = [e for e in entries if e["is_local"]]
        assert local["item"]["id"] is None and local["item"]["uri"] == LOCAL.uri
        assert any(t["type"] == "track" and t["name"] is None for t in things)
        # removed for Development Mode apps: the old playlist endpoint and the batch artists
        assert api.get(f"playlists/{pl['id']}/tracks").status_code == 403
        artist_id = next(t for t in things if t["type"] == "track")["artists"][0]["id"]
        refused = api.get("artists", ids=artist_id)
        assert refused.status_code == 403 and refused.json()["error"]["message"] == "Forbidden"
        one = api.get(f"artists/{artist_id}").json()
        assert one["genres"] and not {"followers", "popularity"} & set(one)
        top = api.get("me/top/artists").json()["items"]
        assert top and not any({"followers", "popularity"} & set(a) for a in top)


def test_extended_quota_shapes_on_request() -> None:
    with _fake(extended_quota=True) as (_, api):
        me = api.get("me").json()
        assert set(me) >= REMOVED_USER and len(me["country"]) == 2
        [pl, *_] = api.get("me/playlists").json()["items"]
        assert "items" not in pl and pl["tracks"]["href"].endswith(f"/{pl['id']}/tracks")
        entries = api.get(f"playlists/{pl['id']}/tracks", limit=100).json()["items"]
        assert all("track" in e and "item" not in e for e in entries)
        tracks = [e["track"] for e in entries if e["track"]["type"] == "track"]
        assert all(set(t) >= REMOVED_TRACK for t in tracks if not t.get("is_local"))
        assert api.get(f"playlists/{pl['id']}/items").status_code == 404  # the older API
        artist_id = tracks[0]["artists"][0]["id"]
        [artist] = api.get("artists", ids=artist_id).json()["artists"]
        assert artist["followers"]["total"] >= 0 and 0 <= artist["popularity"] <= 100


def test_recently_played_pages_carry_next_like_spotify() -> None:
    """A full page links `before` its oldest play; the last link gives an empty page."""
    with _fake(window=None) as (fake, api):
        fake.spotify.page_size = 20
        url: str | None = f"{api.base}/me/player/recently-played?limit=50&after=0"
        pages: list[dict[str, Any]] = []
        while url and len(pages) < 20:
            body = api.get(url).json()
            pages.append(body)
            url = body["next"]
        sizes = [len(p["items"]) for p in pages]
        assert sizes == [20] * 6 + [0]  # 120 plays, then the empty page Spotify answers
        assert all("before=" in p["next"] and "after=" not in p["next"] for p in pages[:-1])
        assert pages[-1]["cursors"] is None
        played = [i["played_at"] for p in pages for i in p["items"]]
        assert played == sorted(played, reverse=True) and len(set(played)) == 120
        types = [i["track"]["type"] for p in pages for i in p["items"]]
        assert types.count("episode") == 1  # the extras: one episode and one local file
        things = [i["track"] for p in pages for i in p["items"]]
        assert [t["uri"] for t in things if t.get("is_local")] == [LOCAL.uri]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_command_serves_dev_mode_by_default_and_extended_quota_by_flag(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "TRACKLINE_HOME": str(tmp_path / "home")}
    ports = {"dev": _free_port(), "ext": _free_port()}
    procs = {
        mode: subprocess.Popen(
            [sys.executable, "-m", "trackline", "fake-api", "--port", str(port)]
            + (["--extended-quota"] if mode == "ext" else []),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for mode, port in ports.items()
    }
    try:
        countries = {}
        for mode, port in ports.items():
            base = f"http://127.0.0.1:{port}"
            _wait(base, procs[mode])
            token = httpx.post(f"{base}/_fake/tokens", json={"user": "ida"}).json()
            access = httpx.post(
                f"{base}/spotify-accounts/api/token",
                data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"],
                      "client_id": "fake-spotify-client"},
            ).json()["access_token"]  # fmt: skip
            me = Client(base, access).get("me").json()
            countries[mode] = me.get("country")
            pl = Client(base, access).get("me/playlists").json()["items"][0]
            assert ("items" in pl) == (mode == "dev")
        assert countries["dev"] is None and countries["ext"]
    finally:
        for p in procs.values():
            p.terminate()
            p.wait(timeout=10)
    for p in procs.values():
        assert p.stderr is not None
        text = p.stderr.read().decode()
        assert "Spotify shapes:" in text


def _wait(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "trackline fake-api exited"
        try:
            if httpx.get(f"{base}/_fake/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{base} did not answer")
