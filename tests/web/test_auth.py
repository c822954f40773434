"""Push authentication at the boundary: token mode, OIDC claim checks, configuration errors.

OIDC signature checking is google-auth's job and needs Google's certificates (no network here):
these tests give `OIDCAuth` a verifier and check what trackline does with its answer.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import pytest

from trackline.config import Settings
from trackline.errors import ConfigError
from trackline.web.auth import AuthError, OIDCAuth, TokenAuth, from_settings, google_verifier

SA = "pusher@proj.iam.gserviceaccount.com"
ISS = "https://accounts.google.com"


def test_token_auth_accepts_only_the_exact_token() -> None:
    auth = TokenAuth("s3cret")
    assert auth.check("Bearer s3cret") == "token"
    for header in (None, "", "Bearer", "Bearer s3cre", "Bearer s3crett", "Token s3cret"):
        with pytest.raises(AuthError) as info:
            auth.check(header)
        assert "s3cret" not in str(info.value)


def _verifier(claims: Mapping[str, Any] | Exception) -> Any:
    seen: list[tuple[str, str]] = []

    def verify(token: str, audience: str) -> Mapping[str, Any]:
        seen.append((token, audience))
        if isinstance(claims, Exception):
            raise claims
        return claims

    verify.seen = seen  # type: ignore[attr-defined]
    return verify


def test_oidc_passes_token_and_audience_and_checks_the_service_account() -> None:
    verify = _verifier(
        {"email": SA, "email_verified": True, "aud": "https://w/pubsub/push", "iss": ISS}
    )
    auth = OIDCAuth("https://w/pubsub/push", SA, verify=verify)
    assert auth.check("Bearer header.payload.sig") == SA
    assert verify.seen == [("header.payload.sig", "https://w/pubsub/push")]


@pytest.mark.parametrize(
    "claims",
    [
        {"email": "someone@else.com", "email_verified": True, "aud": "aud", "iss": ISS},
        {"email": SA, "email_verified": False, "aud": "aud", "iss": ISS},
        ValueError("Token expired, 1 < 2"),
    ],
    ids=["other-account", "unverified-email", "invalid-token"],
)
def test_oidc_refusals_are_auth_errors(claims: Mapping[str, Any] | Exception) -> None:
    auth = OIDCAuth("aud", SA, verify=_verifier(claims))
    with pytest.raises(AuthError):
        auth.check("Bearer abc")


def test_settings_without_a_token_refuse_to_start(tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="TRACKLINE_WORKER_TOKEN"):
        from_settings(Settings.load(home=tmp_path))
    with pytest.raises(ConfigError, match="AUDIENCE"):
        from_settings(Settings.load(home=tmp_path, worker_auth="oidc"))
    with pytest.raises(ConfigError, match="TRACKLINE_WORKER_OIDC_EMAIL"):
        from_settings(Settings.load(home=tmp_path, worker_auth="oidc", worker_oidc_audience="a"))
    with pytest.raises(ConfigError, match="TRACKLINE_WORKER_OIDC_EMAIL"):
        OIDCAuth("aud", "", verify=_verifier({}))
    with pytest.raises(ConfigError, match="token or oidc"):
        from_settings(Settings.load(home=tmp_path, worker_auth="none"))
    settings = Settings.load(home=tmp_path, worker_token="zq-secret-zq")
    assert from_settings(settings).mode == "token"
    assert "zq-secret-zq" not in repr(settings)


def test_oidc_without_google_auth_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.oauth2.id_token", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"trackline\[gcp\]"):
        google_verifier()
