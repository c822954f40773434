"""The dashboard over real HTTP (httpx against uvicorn): pages, filters, 404s, CSV, escaping."""

from __future__ import annotations

import csv
import io
import re
import time
from typing import Any

import httpx
import pytest

from tests.web.dashboard import data

PAGES = ["/", "/runs", "/quality", "/bias", "/drift", "/rejected", "/stream", "/sessions", "/group"]


def get(server: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.get(server + path, timeout=30, **kw)


def text(html: str) -> str:
    """What a reader sees: tags and charts dropped, whitespace collapsed."""
    html = re.sub(r"<svg.*?</svg>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("path", PAGES)
def test_every_page_answers_with_no_script(server: str, path: str) -> None:
    r = get(server, path)
    assert r.status_code == 200, r.text[-500:]
    assert r.headers["content-type"].startswith("text/html")
    assert "script-src" not in r.headers["content-security-policy"]  # so: default-src 'none'
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert "<script" not in r.text.lower()


def test_run_page_shows_the_conservation_equation(server: str, made: dict[str, Any]) -> None:
    from trackline.runs.history import get_manifest

    run = made["runs"][0]
    c = get_manifest(made["settings"], run).counts
    assert c.rejected == 4 and c.duplicates == 5  # the fixture's bad rows and repeats
    page = text(get(server, f"/runs/{run}").text)
    assert (
        f"{c.input:,} in = {c.valid:,} valid + {c.rejected:,} rejected + "
        f"{c.duplicates:,} duplicates ✓" in page
    )
    for reason, n in c.rejected_by_reason.items():
        assert f"{reason} {n}" in page
    assert "sha256" in page and "day1.ndjson" in page


def test_filters_change_what_is_listed(server: str, made: dict[str, Any]) -> None:
    def runs(query: str) -> set[str]:
        return set(re.findall(r'href="/runs/([^"]+)"', get(server, "/runs" + query).text))

    everything = runs("")
    assert set(made["runs"]) | {made["stream_run"]} <= everything
    assert runs("?dataset=listening_events") == set(made["runs"])
    assert runs("?dataset=events") == {made["stream_run"]}
    assert runs("?status=failed") == set()
    assert runs("?from=2000-01-01&to=2000-01-02") == set()
    rejected = get(server, f"/rejected?run={made['runs'][0]}&reason=pattern:country").text
    assert "bad-1" in rejected and "bad-2" not in rejected


def test_unknown_things_are_404_pages_and_bad_parameters_400(
    server: str, made: dict[str, Any]
) -> None:
    for path in (
        "/runs/rdoesnotexist",
        "/runs?dataset=nosuch",
        "/rejected?run=rnosuch",
        "/quality?run=rnosuch",
        "/drift?dataset=listening_events&a=rnosuch",
        "/sessions/nosuchsession",
        "/group?group=nosuch",
        "/no/such/page",
    ):
        r = get(server, path)
        assert r.status_code == 404, path
        assert "Traceback" not in r.text and "Not found" in r.text
    for path in (
        "/runs?page=0",
        "/runs?status=exploded",
        "/runs?from=yesterday",
        "/rejected?dataset=x%3B%20DROP%20TABLE%20meta.runs",
        "/drift?threshold=abc",
    ):
        r = get(server, path)
        assert r.status_code == 400, path
        assert "Traceback" not in r.text
    assert get(server, "/runs").status_code == 200  # and the warehouse is still whole


def test_records_are_shown_as_text(server: str) -> None:
    page = get(server, "/rejected?dataset=listening_events").text
    assert data.XSS_SCRIPT not in page and data.XSS_IMG not in page
    assert "&lt;script&gt;document.title=" in page
    assert "&lt;img src=x onerror=" in page
    session = get(server, "/sessions").text
    assert "<script>" not in session


def test_csv_download_holds_every_filtered_row(server: str, made: dict[str, Any]) -> None:
    run = made["runs"][0]
    r = get(server, f"/rejected.csv?run={run}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 4
    assert {row["run_id"] for row in rows} == {run}
    by_id = {row["record"]: row for row in rows}
    assert any(data.XSS_SCRIPT in rec for rec in by_id)  # the record, byte for byte
    assert all(row["source_file"].endswith("day1.ndjson") for row in rows)
    assert sorted(int(row["source_line"]) for row in rows) == [401, 402, 403, 404]
    assert get(server, "/rejected.csv?run=rnosuch").status_code == 404


def test_drift_flags_the_shifted_columns(server: str, made: dict[str, Any]) -> None:
    a, b = made["runs"]
    page = get(server, f"/drift?dataset=listening_events&a={a}&b={b}").text
    flagged = set(re.findall(r'<tr class="flag"><td>([^<]+)</td>', page))
    assert {"country", "genre"} <= flagged  # the fixture shifted both
    assert "event_type" not in flagged  # always "play"
    calm = get(server, f"/drift?dataset=listening_events&a={a}&b={b}&threshold=10").text
    assert len(re.findall(r'<tr class="flag">', calm)) < len(flagged)


def test_stream_page_reads_the_streams_own_metrics(server: str, made: dict[str, Any]) -> None:
    page = text(get(server, "/stream").text)
    assert made["stream_run"] in page
    m = re.search(r"events ([\d,]+) events/s", page)
    assert m is not None and int(m.group(1).replace(",", "")) == 300


def test_session_page_shows_timeline_and_outcomes(server: str, made: dict[str, Any]) -> None:
    page = text(get(server, f"/sessions/{made['session']}").text)
    for status in ("pending", "running", "error"):
        assert status in page
    assert "needs reauth" in page and "bob failed" in page


def test_group_page_has_overlap_blend_and_recommendations(server: str) -> None:
    page = get(server, "/group?group=club").text  # computed on a thread (the fixture waited)
    assert 'id="computing"' not in page and 'http-equiv="refresh"' not in page
    assert page.count("<rect") >= 9  # the 3 x 3 heatmap at least
    shown = text(page)
    for part in ("Who listened most", "Pairwise overlap", "Blend", "Recommendations"):
        assert part in shown
    assert "alice bob" in shown  # a pair of the overlap table


def test_group_report_is_computed_on_a_thread_then_shown(made: dict[str, Any]) -> None:
    from tests.web.conftest import serve_app
    from trackline.web.dashboard.app import create_app

    with serve_app(create_app(made["settings"])) as url:
        first = get(url, "/group?group=club").text
        assert 'id="computing"' in first and 'http-equiv="refresh" content="3"' in first
        deadline = time.monotonic() + 120
        while 'id="computing"' in (page := get(url, "/group?group=club").text):
            assert time.monotonic() < deadline
            time.sleep(0.2)
    assert "Recommendations" in page and "as of" in page


def test_concurrent_requests_share_the_warehouse(server: str, made: dict[str, Any]) -> None:
    """Requests in flight at once each read on their own cursor of one read-only opening (a
    second opening of the file in one process would clash with the first)."""
    from concurrent.futures import ThreadPoolExecutor

    paths = [*PAGES, f"/runs/{made['runs'][0]}", f"/quality?run={made['runs'][1]}"] * 3
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda p: get(server, p).status_code, paths))
    assert codes == [200] * len(paths)
