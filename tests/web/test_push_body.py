"""The push endpoint authenticates before it reads, and refuses big bodies without reading them.

Each request announces (or starts) a body and never finishes it: an answer can only come if the
worker decided from the headers, or from the bytes it counted so far.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.web import raw
from tests.web.conftest import TOKEN, envelope, serve_app
from trackline.config import Settings
from trackline.state import StateStore
from trackline.web.auth import TokenAuth
from trackline.web.push import create_app

BIG = 300 * 1024 * 1024  # announced, never sent
PUSH = "/pubsub/push"


@pytest.fixture
def url(settings: Settings, store: StateStore) -> Iterator[str]:
    app = create_app(settings, store=store, worker_id="w-body", authenticator=TokenAuth(TOKEN))
    with serve_app(app) as base:
        yield base + PUSH


def _kib(n: int) -> Iterator[bytes]:
    return (b"x" * 1024 for _ in range(n))


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", f"Basic {TOKEN}"], ids=["missing", "wrong", "basic"]
)
def test_unauthenticated_300mb_post_is_401_before_the_body_is_read(
    url: str, authorization: str | None
) -> None:
    headers = {"Content-Length": str(BIG), "Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    answer = raw.post(url, headers, _kib(16), timeout=5)
    assert answer.status == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert TOKEN.encode() not in answer.body


def test_unauthenticated_chunked_post_is_401_before_the_body_is_read(url: str) -> None:
    answer = raw.post(url, {"Authorization": "Bearer wrong"}, _kib(16), chunked=True, timeout=5)
    assert answer.status == 401


def test_authenticated_post_announcing_300mb_is_413_without_reading_it(url: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Length": str(BIG)}
    answer = raw.post(url, headers, _kib(16), timeout=5)
    assert answer.status == 413
    assert "larger than" in json.loads(answer.body)["error"]


def test_chunked_body_without_a_length_is_cut_off_as_it_arrives(url: str) -> None:
    # 1 MiB sent, the body never terminated: the worker must stop counting at its limit.
    answer = raw.post(url, {"Authorization": f"Bearer {TOKEN}"}, _kib(1024), chunked=True)
    assert answer.status == 413


def test_a_small_chunked_envelope_is_read_whole(url: str) -> None:
    body = json.dumps(envelope("nope")).encode()
    framed = [body[:40], body[40:], b""]  # the empty chunk ends the body
    answer = raw.post(url, {"Authorization": f"Bearer {TOKEN}"}, framed, chunked=True)
    assert answer.status == 404 and json.loads(answer.body)["result"] == "unknown"
