"""Fixtures: a home with data on every page (built once per module), a real dashboard server on
a free loopback port (the worker tests' `serve_app`), and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import serve_app
from tests.web.dashboard import data

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium's own connections are refused by a closed
# network and it logs errors; none of them changes what a page does.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return data.build(tmp_path_factory.mktemp("dash") / "home")


@pytest.fixture(scope="module")
def server(made: dict[str, Any]) -> Iterator[str]:
    from trackline.web.dashboard.app import create_app

    with serve_app(create_app(made["settings"])) as url:
        wait_for_group(url)
        yield url


def wait_for_group(url: str, headers: dict[str, str] | None = None) -> None:
    """The group page computes its report on a thread and refreshes itself meanwhile: wait
    until it is there, so page tests see it whole."""
    import httpx

    deadline = time.monotonic() + 180
    while 'id="computing"' in httpx.get(url + "/group", headers=headers, timeout=30).text:
        assert time.monotonic() < deadline, "the group report was never computed"
        time.sleep(0.2)


def require_chromium() -> str:
    """Debian's Chromium (scripts/services/chromium.sh installs it): skip without it, except
    under CI, where its absence fails the test."""
    if Path(CHROMIUM).exists() or shutil.which("chromium"):
        return CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))
    reason = f"{CHROMIUM} is not installed (scripts/services/chromium.sh installs it)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason}; CI needs it")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            yield b
        finally:
            b.close()
