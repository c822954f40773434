"""OIDC push authentication over real HTTP with real signed JWTs (a local RSA key, google-auth's
`jwt.decode` as the verifier: the same checks `verify_oauth2_token` runs, minus the network)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.web.conftest import envelope, serve_app
from tests.web.oidc import AUDIENCE, SA, Keys
from trackline.config import Settings
from trackline.errors import ConfigError
from trackline.state import StateStore
from trackline.web.auth import from_settings
from trackline.web.push import create_app


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


def _oidc_settings(settings: Settings, **overrides: Any) -> Settings:
    values = {"worker_auth": "oidc", "worker_oidc_audience": AUDIENCE, "worker_oidc_email": SA}
    values.update(overrides)
    return settings.model_copy(update=values)


def _serve(settings: Settings, store: StateStore, verify: Any) -> Any:
    oidc = _oidc_settings(settings)
    app = create_app(oidc, store=store, authenticator=from_settings(oidc, verify=verify))
    return serve_app(app)


@pytest.fixture
def push_url(settings: Settings, store: StateStore, keys: Keys) -> Iterator[str]:
    with _serve(settings, store, keys.verifier()) as url:
        yield f"{url}/pubsub/push"


def _push(url: str, token: str) -> httpx.Response:
    return httpx.post(url, json=envelope("nope"), headers={"Authorization": f"Bearer {token}"})


def test_a_token_from_the_service_account_passes(push_url: str, keys: Keys) -> None:
    resp = _push(push_url, keys.sign())
    assert resp.status_code == 404 and resp.json()["result"] == "unknown"  # past auth


@pytest.mark.parametrize(
    "claims",
    [
        {"email": "someone@gmail.com"},
        {"email": None},
        {"email_verified": False},
        {"email_verified": "false"},
        {"email_verified": None},
        {"aud": "https://other.example/push"},
        {"iss": "https://evil.example"},
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
    ],
    ids=[
        "other-account",
        "no-email",
        "unverified",
        "verified-as-string-false",
        "verified-missing",
        "other-audience",
        "other-issuer",
        "expired",
    ],
)
def test_tokens_that_are_not_the_service_accounts_are_401(
    push_url: str, keys: Keys, claims: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    token = keys.sign(**claims)
    with caplog.at_level(logging.INFO):
        resp = _push(push_url, token)
    assert resp.status_code == 401, resp.text
    assert resp.headers["www-authenticate"] == "Bearer"
    for text in (resp.text, caplog.text):
        assert token not in text and token.split(".")[1] not in text


def test_a_token_signed_by_another_key_is_401(push_url: str) -> None:
    assert _push(push_url, Keys().sign()).status_code == 401


def test_the_audience_is_checked_even_by_a_lax_verifier(
    settings: Settings, store: StateStore, keys: Keys
) -> None:
    with _serve(settings, store, keys.verifier(check_audience=False)) as url:
        other = _push(f"{url}/pubsub/push", keys.sign(aud="https://other.example/push"))
        ours = _push(f"{url}/pubsub/push", keys.sign())
    assert other.status_code == 401
    assert ours.status_code == 404


def test_oidc_without_a_service_account_or_audience_refuses_to_start(
    settings: Settings, keys: Keys
) -> None:
    for missing in ({"worker_oidc_email": None}, {"worker_oidc_email": "  "}):
        with pytest.raises(ConfigError, match="TRACKLINE_WORKER_OIDC_EMAIL"):
            create_app(_oidc_settings(settings, **missing))
        with pytest.raises(ConfigError, match="TRACKLINE_WORKER_OIDC_EMAIL"):
            from_settings(_oidc_settings(settings, **missing), verify=keys.verifier())
    with pytest.raises(ConfigError, match="TRACKLINE_WORKER_OIDC_AUDIENCE"):
        create_app(_oidc_settings(settings, worker_oidc_audience=None))


def test_a_verifier_that_cannot_reach_google_is_503_not_500(
    settings: Settings, store: StateStore
) -> None:
    def unreachable(token: str, audience: str) -> Any:
        raise OSError("certificates unreachable")

    with _serve(settings, store, unreachable) as url:
        resp = _push(f"{url}/pubsub/push", "a.b.c")
    assert resp.status_code == 503 and "retry" in resp.json()["error"]
