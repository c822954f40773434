"""`trackline auth` end to end against the fake accounts service, following the authorize
redirect with httpx as a browser would."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from trackline.auth.oauth import TokenSet, authorize, oauth_app, refresh
from trackline.config import Settings
from trackline.core.http import HttpClient
from trackline.errors import ConnectorError, NeedsReauthError
from trackline.fakeapi import FakeAPI, serve


@pytest.fixture
def fake() -> Iterator[FakeAPI]:
    with serve(FakeAPI.create()) as api:
        yield api


def _run(settings: Settings, tamper: bool = False) -> tuple[TokenSet | Exception, str]:
    shown: list[str] = []
    ready = threading.Event()
    out: list[TokenSet | Exception] = []

    def flow() -> None:
        with HttpClient() as http:
            try:
                out.append(
                    authorize(
                        http,
                        oauth_app(settings, "spotify"),
                        port=0,
                        open_browser=False,
                        show_url=lambda u: (shown.append(u), ready.set()),
                        timeout=10,
                    )
                )
            except Exception as exc:
                out.append(exc)

    t = threading.Thread(target=flow)
    t.start()
    assert ready.wait(5)
    url = shown[0]
    if tamper:
        q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        q["state"] = "forged"
        url = url.split("?")[0] + "?" + urlencode(q)
    resp = httpx.get(url, follow_redirects=True, timeout=10)  # the "browser"
    assert resp.status_code == 200
    t.join(10)
    return out[0], url


def test_pkce_flow_end_to_end(fake: FakeAPI, tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path, **fake.settings_overrides())
    tokens, url = _run(settings)
    assert isinstance(tokens, TokenSet), tokens
    q = parse_qs(urlsplit(url).query)
    assert q["code_challenge_method"] == ["S256"] and q["state"][0]
    assert q["redirect_uri"][0].startswith("http://127.0.0.1:")
    assert tokens.refresh_token
    with HttpClient() as http:
        rotated = refresh(http, oauth_app(settings, "spotify"), tokens.refresh_token)
        assert rotated.refresh_token and rotated.refresh_token != tokens.refresh_token
        with pytest.raises(NeedsReauthError, match="invalid_grant"):  # single use
            refresh(http, oauth_app(settings, "spotify"), tokens.refresh_token)


def test_state_mismatch_is_refused(fake: FakeAPI, tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path, **fake.settings_overrides())
    result, _ = _run(settings, tamper=True)
    assert isinstance(result, ConnectorError) and "state" in str(result)


def test_wrong_verifier_is_refused_by_the_fake(fake: FakeAPI) -> None:
    base = fake.base_url + "/spotify-accounts"
    r = httpx.get(
        f"{base}/authorize",
        params={
            "client_id": "c",
            "response_type": "code",
            "state": "s",
            "redirect_uri": "http://127.0.0.1:1/callback",
            "code_challenge": "abc",
            "code_challenge_method": "S256",
        },
    )
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    t = httpx.post(
        f"{base}/api/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": "wrong",
            "redirect_uri": "http://127.0.0.1:1/callback",
            "client_id": "c",
        },
    )
    assert t.status_code == 400 and t.json()["error"] == "invalid_grant"
    bad = httpx.get(f"{base}/authorize", params={"redirect_uri": "http://localhost:1/cb"})
    assert bad.status_code == 400


def test_missing_client_id_is_a_clear_error(tmp_path: Path) -> None:
    from trackline.errors import ConfigError

    with pytest.raises(ConfigError, match="TRACKLINE_SPOTIFY_CLIENT_ID"):
        oauth_app(Settings.load(home=tmp_path), "spotify")
