"""The HTTP client against the fake over real HTTP: retries, Retry-After, quota, pagination."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from trackline.core.http import (
    HttpClient,
    MalformedResponseError,
    RetryPolicy,
    next_url_pages,
    offset_pages,
    page_token_pages,
    redact,
    redact_url,
    register_secret,
)
from trackline.core.http.client import AnswerLostError, ForeignHostError
from trackline.core.http.paginate import origin
from trackline.errors import ConnectorError, RateLimitedError
from trackline.fakeapi import FakeAPI, serve

FAST = RetryPolicy(max_attempts=4, backoff=0.01, backoff_max=0.05, max_retry_after=5)


class Recorder:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)


@pytest.fixture
def fake() -> Iterator[FakeAPI]:
    with serve(FakeAPI.create()) as api:
        yield api


def _products(fake: FakeAPI) -> str:
    return f"{fake.base_url}/fakestore/products"


def test_server_errors_are_retried_until_success(fake: FakeAPI) -> None:
    fake.faults.script("/fakestore/products", ["500", "500"])
    with HttpClient(policy=FAST) as http:
        body = http.get_json(_products(fake))
        assert len(body) == 20
        assert http.stats.retries == 2
        assert http.stats.by_status[500] == 2


def test_each_retry_logs_one_line_without_secrets(
    fake: FakeAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="trackline.core.http.client")
    fake.faults.script("/fakestore/products", ["500", "500"])
    with HttpClient(policy=FAST) as http:
        http.get_json(_products(fake), params={"access_token": "tok-in-the-url-123"})
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("http.retry")]
    assert [line.split(" attempt=")[1][0] for line in lines] == ["1", "2"]
    assert all("500 server error" in line for line in lines)
    assert "tok-in-the-url-123" not in caplog.text


def test_retry_after_is_honoured_measured(fake: FakeAPI) -> None:
    fake.faults.script("/fakestore/products", ["429:1"])
    sleep = Recorder()
    with HttpClient(policy=FAST, sleep=sleep) as http:
        start = time.monotonic()
        http.get_json(_products(fake))
        elapsed = time.monotonic() - start
    assert sleep.waits and sleep.waits[0] >= 1.0
    assert elapsed >= 1.0  # the retry came no earlier than Retry-After


@pytest.mark.parametrize("fault", ["429:0", "429"])
def test_zero_or_missing_retry_after_still_backs_off(fake: FakeAPI, fault: str) -> None:
    fake.faults.script("/fakestore/products", [fault])
    sleep = Recorder()
    with HttpClient(policy=FAST, sleep=sleep) as http:
        http.get_json(_products(fake))
    assert len(sleep.waits) == 1 and sleep.waits[0] > 0


def test_spotify_quota_exceeded_stops_without_retrying(fake: FakeAPI) -> None:
    fake.faults.script("/fakestore/products", ["429quota"])
    with HttpClient(policy=FAST) as http, pytest.raises(RateLimitedError, match="QUOTA"):
        http.get_json(_products(fake))
    assert http.stats.requests == 1


def test_retry_after_longer_than_allowed_fails_clearly(fake: FakeAPI) -> None:
    fake.faults.script("/fakestore/products", ["429:600"])
    with HttpClient(policy=FAST) as http, pytest.raises(RateLimitedError, match="600s"):
        http.get_json(_products(fake))


def test_malformed_json_retried_then_reported_with_body(fake: FakeAPI) -> None:
    fake.faults.script("/fakestore/products", ["malformed"] * 4)
    with HttpClient(policy=FAST) as http, pytest.raises(MalformedResponseError) as info:
        http.get_json(_products(fake))
    assert '"items"' in info.value.body


def test_connection_errors_are_retried_and_reported() -> None:
    with HttpClient(policy=FAST, timeout=0.5) as http, pytest.raises(Exception, match="4 tries"):
        http.get_json("http://127.0.0.1:9/nothing")
    assert http.stats.retries == 3


def test_paginators(fake: FakeAPI) -> None:
    user = "pager"
    token = fake.spotify_auth.issue_access_token(user)
    yt = fake.google_auth.issue_access_token(user)
    with HttpClient(policy=FAST) as http:

        def spotify(url: str, params: object = None) -> object:
            return http.get_json(url, params, auth=lambda: {"Authorization": f"Bearer {token}"})  # type: ignore[arg-type]

        def google(url: str, params: object = None) -> object:
            return http.get_json(url, params, auth=lambda: {"Authorization": f"Bearer {yt}"})  # type: ignore[arg-type]

        base = f"{fake.base_url}/spotify/v1"
        pages = list(offset_pages(spotify, f"{base}/me/top/tracks", limit=20))  # type: ignore[arg-type]
        assert [len(p["items"]) for p in pages] == [20, 20, 10]
        ids = [i["id"] for p in pages for i in p["items"]]
        assert len(set(ids)) == 50
        nexts = list(next_url_pages(spotify, f"{base}/me/top/artists", {"limit": 15}))  # type: ignore[arg-type]
        assert sum(len(p["items"]) for p in nexts) == 50 and len(nexts) == 4
        yt_pages = list(
            page_token_pages(
                google,
                f"{fake.base_url}/youtube/v3/playlists",
                {
                    "mine": "true",  # type: ignore[arg-type]
                    "maxResults": 1,
                },
            )
        )
        assert len(yt_pages) == 2


def test_redaction_of_urls_headers_and_registered_secrets() -> None:
    url = "https://api.example.com/x?access_token=abc123secret&limit=5&client_secret=s3cr3t!"
    shown = redact_url(url)
    assert "abc123secret" not in shown and "s3cr3t" not in shown and "limit=5" in shown
    assert "Bearer ***" in redact("Authorization: Bearer eyJhbGciOi.J9.xyz")
    register_secret("tok-very-secret-value")
    assert "tok-very-secret-value" not in redact("failed with tok-very-secret-value inside")


def _refresh_call(http: HttpClient, fake: FakeAPI, token: str) -> object:
    form = {"grant_type": "refresh_token", "refresh_token": token, "client_id": "c"}
    return http.request("POST", f"{fake.base_url}/spotify-accounts/api/token", data=form)[1]


def test_a_post_whose_answer_is_lost_is_not_sent_again(fake: FakeAPI) -> None:
    """A token refresh rotates a single-use token: after a timeout or a 5xx the first send may
    have done it, so a second send would only burn the token (issue #24, point 9)."""
    token = fake.spotify_auth.issue_refresh_token("u")
    fake.faults.script("/spotify-accounts/api/token", ["late:1500"])
    with HttpClient(policy=FAST, timeout=0.4) as http:
        with pytest.raises(AnswerLostError, match="not sent again"):
            _refresh_call(http, fake, token)
        time.sleep(1.3)  # the fake answers late, after rotating
        assert fake.spotify_auth.refreshes == 1  # one send only
        fake.faults.script("/spotify-accounts/api/token", ["500"])
        with pytest.raises(AnswerLostError, match="500"):
            _refresh_call(http, fake, token)
        assert fake.spotify_auth.refreshes == 1  # the fake's 500 came before the endpoint
        assert http.stats.retries == 0


def test_a_post_refused_before_acting_is_retried_and_a_get_after_a_timeout(
    fake: FakeAPI,
) -> None:
    token = fake.spotify_auth.issue_refresh_token("u")
    fake.faults.script("/spotify-accounts/api/token", ["429:0"])
    fake.faults.script("/fakestore/products", ["slow:1500"])
    with HttpClient(policy=FAST, timeout=0.4) as http:
        body = _refresh_call(http, fake, token)
        assert isinstance(body, dict) and body["access_token"]
        assert fake.spotify_auth.refreshes == 1 and http.stats.retries == 1
        assert len(http.get_json(_products(fake))) == 20  # GET is idempotent: retried
        assert http.stats.retries == 2


def test_a_bearer_token_goes_only_to_the_api_origin(fake: FakeAPI) -> None:
    asked: list[int] = []

    def auth() -> dict[str, str]:
        asked.append(1)
        return {"Authorization": "Bearer t"}

    api = f"{fake.base_url}/spotify/v1"
    port = fake.base_url.rsplit(":", 1)[1]
    others = [
        f"http://127.0.0.2:{port}/spotify/v1/me",  # another host
        f"https://127.0.0.1:{port}/spotify/v1/me",  # another scheme
        "http://127.0.0.1:1/spotify/v1/me",  # another port
    ]
    with HttpClient(policy=FAST) as http:
        for url in others:
            with pytest.raises(ForeignHostError, match="not on the API's own host"):
                http.get_json(url, auth=auth, auth_origin=api)
        assert asked == []  # no header was even made
        assert http.stats.requests == 0
    assert origin("https://API.spotify.com/v1") == origin("https://api.spotify.com:443/x")


def test_a_next_page_on_another_host_is_refused(fake: FakeAPI) -> None:
    token = fake.spotify_auth.issue_access_token("pager")
    with serve(FakeAPI.create()) as other, HttpClient(policy=FAST) as http:
        fake.next_base = other.base_url  # the API points `next` at another origin

        def spotify(url: str, params: object = None) -> object:
            return http.get_json(url, params, auth=lambda: {"Authorization": f"Bearer {token}"})  # type: ignore[arg-type]

        pages = next_url_pages(spotify, f"{fake.base_url}/spotify/v1/me/top/artists", {"limit": 15})  # type: ignore[arg-type]
        assert len(next(pages)["items"]) == 15
        with pytest.raises(ConnectorError, match="refused to follow a next page on another host"):
            next(pages)
        assert http.stats.requests == 1
