"""With a token every request authenticates before anything is read; off loopback, no token
means no start (exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web.conftest import serve_app

TOKEN = "dash-token-5f1c0e9a7b"


@pytest.fixture(scope="module")
def guarded(made: dict[str, Any]) -> Iterator[str]:
    from trackline.web.dashboard.app import create_app

    with serve_app(create_app(made["settings"], token=TOKEN)) as url:
        yield url


def test_no_token_no_data(guarded: str, made: dict[str, Any]) -> None:
    run = made["runs"][0]
    for path in ("/", f"/runs/{run}", f"/rejected.csv?run={run}", "/no/such/page", "/group"):
        r = httpx.get(guarded + path, timeout=30)
        assert r.status_code == 401, path
        assert run not in r.text and "listening_events" not in r.text
    wrong = httpx.get(guarded + "/runs", headers={"Authorization": "Bearer nope"}, timeout=30)
    assert wrong.status_code == 401
    forged = httpx.get(guarded + "/runs", cookies={"trackline_dashboard": TOKEN}, timeout=30)
    assert forged.status_code == 401  # the cookie holds an HMAC, not the token


def test_bearer_token_reads(guarded: str, made: dict[str, Any]) -> None:
    r = httpx.get(guarded + "/runs", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert r.status_code == 200 and made["runs"][0] in r.text


def test_login_sets_a_cookie_that_reads(guarded: str, made: dict[str, Any]) -> None:
    with httpx.Client(base_url=guarded, timeout=30) as c:
        bad = c.post("/login", data={"token": "wrong"})
        assert bad.status_code == 401 and not c.cookies
        ok = c.post("/login", data={"token": TOKEN})
        assert ok.status_code == 303
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert TOKEN not in ok.headers["set-cookie"]
        assert c.get("/runs").status_code == 200
        assert made["runs"][0] in c.get("/runs").text


def run_cli(home: Path, *args: str) -> Any:
    full = {k: v for k, v in os.environ.items() if k != "TRACKLINE_DASHBOARD_TOKEN"}
    full["TRACKLINE_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "trackline", "serve", "dashboard", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_binding_elsewhere_needs_a_token(tmp_path: Path) -> None:
    r = run_cli(tmp_path, "--host", "0.0.0.0", "--port", "1")
    assert r.returncode == 2
    assert "TRACKLINE_DASHBOARD_TOKEN" in r.stderr
    assert "Traceback" not in r.stderr
