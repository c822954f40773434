"""`trackline auth spotify` as a user runs it: a real process listening on the loopback, the
fake accounts service in this process, and httpx playing the browser that approves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from trackline.config import Settings
from trackline.fakeapi import FakeAPI, serve
from trackline.state import open_state

TIMEOUT = 60.0


@pytest.fixture
def fake() -> Iterator[FakeAPI]:
    with serve(FakeAPI.create()) as api:
        yield api


@dataclass
class Waiting:
    """A running `trackline auth` and the authorize URL it printed."""

    proc: subprocess.Popen[str]
    url: str
    shown: str  # everything it printed up to and including the URL

    def finish(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=TIMEOUT)
        return self.proc.returncode, out, self.shown + err


def start_auth(fake: FakeAPI, home: Path, *args: str) -> Waiting:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLINE_")}
    env.update(fake.env(), TRACKLINE_HOME=str(home))
    proc = subprocess.Popen(
        [sys.executable, "-m", "trackline", "auth", "spotify", "--no-browser", "--port", "0",
         "--timeout", str(TIMEOUT), *args],
        cwd=home.parent, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    shown = ""
    for line in proc.stderr:  # the URL goes to stderr, so stdout stays clean for --json
        shown += line
        if line.startswith(fake.base_url):
            return Waiting(proc, line.strip(), shown)
    proc.wait(TIMEOUT)
    raise AssertionError(f"no authorize URL printed (exit {proc.returncode}): {shown}")


def approve(url: str, login: str) -> httpx.Response:
    """What the browser does: the user approves, the provider redirects to the loopback."""
    with httpx.Client(timeout=TIMEOUT) as client:
        consent = client.get(f"{url}&{urlencode({'login_hint': login})}")
        assert consent.status_code == 302, consent.text
        return client.get(consent.headers["location"])


def test_auth_spotify_connects_the_user_and_prints_no_secret(fake: FakeAPI, tmp_path: Path) -> None:
    home = tmp_path / "home"
    waiting = start_auth(fake, home)
    query = parse_qs(urlsplit(waiting.url).query)
    redirect = urlsplit(query["redirect_uri"][0])
    assert redirect.hostname == "127.0.0.1" and redirect.path == "/callback"
    assert query["code_challenge_method"] == ["S256"] and query["state"][0]
    callback = approve(waiting.url, "zoe")
    assert callback.status_code == 200 and "authorised" in callback.text
    code = parse_qs(urlsplit(str(callback.request.url)).query)["code"][0]

    rc, out, err = waiting.finish()
    assert rc == 0, err
    assert "spotify connected for user zoe" in out  # the id read from the account's /me

    store = open_state(Settings.load(home=home))
    try:
        user = store.get_user("zoe")
        assert user is not None and user.providers == {"spotify": "connected"}
        refresh = [t for t in fake.spotify_auth.issued if t.startswith("spr_")]
        assert len(refresh) == 1
        assert store.get_refresh_token("zoe", "spotify") == refresh[0]
    finally:
        store.close()
    for secret in [*fake.spotify_auth.issued, code]:
        assert secret not in out and secret not in err


def test_auth_spotify_json_with_an_explicit_user(fake: FakeAPI, tmp_path: Path) -> None:
    home = tmp_path / "home"
    waiting = start_auth(fake, home, "--user", "club-7", "--json")
    assert approve(waiting.url, "zoe").status_code == 200
    rc, out, err = waiting.finish()
    assert rc == 0, err
    assert json.loads(out) == {"provider": "spotify", "user_id": "club-7", "status": "connected"}
    store = open_state(Settings.load(home=home))
    try:
        assert store.get_refresh_token("club-7", "spotify") is not None
        assert store.get_user("zoe") is None
    finally:
        store.close()


def test_auth_spotify_refuses_a_callback_with_the_wrong_state(
    fake: FakeAPI, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    waiting = start_auth(fake, home)
    redirect_uri = parse_qs(urlsplit(waiting.url).query)["redirect_uri"][0]
    forged = httpx.get(redirect_uri, params={"code": "stolen", "state": "forged"}, timeout=TIMEOUT)
    assert forged.status_code == 200
    rc, out, err = waiting.finish()
    assert rc == 1 and out == ""
    assert "state did not match" in err and "Traceback" not in err
    store = open_state(Settings.load(home=home))
    try:
        assert store.list_users() == []
    finally:
        store.close()
