"""The dashboard in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.dashboard.test_http import PAGES


def distinct_bytes(png: bytes) -> int:
    """How varied a PNG's pixel data is: a blank page is a handful of byte values."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return len(set(zlib.decompress(idat)))


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    p = context.new_page()
    p.set_default_timeout(20_000)
    p.problems = []  # console errors, page errors and dialogs, in order
    p.on("console", lambda m: p.problems.append(f"console {m.type}: {m.text}")
         if m.type == "error" else None)  # fmt: skip
    p.on("pageerror", lambda e: p.problems.append(f"page error: {e}"))
    p.on("dialog", lambda d: (p.problems.append(f"dialog: {d.message}"), d.dismiss()))
    try:
        yield p
    finally:
        context.close()


@pytest.mark.parametrize("path", PAGES)
def test_every_page_loads_clean_and_not_blank(server: str, page: Any, path: str) -> None:
    response = page.goto(server + path)
    assert response is not None and response.status == 200
    assert page.problems == []
    assert page.locator("h1").first.inner_text().strip()
    assert distinct_bytes(page.screenshot(full_page=True)) > 30


def test_run_page_and_its_links(server: str, page: Any, made: dict[str, Any]) -> None:
    run = made["runs"][0]
    page.goto(server + "/runs")
    page.click(f"a[href='/runs/{run}']")
    assert "every record accounted for" in page.inner_text("main").lower()
    assert "✓" in page.inner_text("#equation")
    page.click("#reasons a >> nth=0")
    assert page.url.startswith(server + "/rejected?")
    assert page.locator("tr.rej").count() >= 1
    assert page.problems == []


def test_filters_change_what_is_shown(server: str, page: Any, made: dict[str, Any]) -> None:
    page.goto(server + "/runs")
    before = page.locator("tr.run").count()
    assert before == 3
    page.select_option("select[name=dataset]", "events")
    page.click("button[type=submit]")
    assert page.locator("tr.run").count() == 1
    assert made["stream_run"] in page.inner_text("#runs")
    page.goto(server + f"/rejected?run={made['runs'][0]}")
    assert page.locator("tr.rej").count() == 4
    page.select_option("select[name=reason]", "malformed")
    page.click("button[type=submit]")
    assert page.locator("tr.rej").count() == 1
    assert "malformed" in page.inner_text("#rejected")
    assert page.problems == []


def test_hostile_records_stay_inert(server: str, page: Any, made: dict[str, Any]) -> None:
    run = made["runs"][0]
    for path in (f"/rejected?run={run}", f"/sessions/{made['session']}"):
        page.goto(server + path)
        assert page.title() != "pwned"
        assert page.evaluate("document.querySelectorAll('script, img[src=x]').length") == 0
    page.goto(server + f"/rejected?run={run}")
    shown = page.inner_text("#rejected")
    assert "<script>document.title='pwned'</script>" in shown  # as text, to be read
    assert '"><img src=x onerror=\\"document.title' in shown  # inside the record's JSON
    assert page.problems == []
