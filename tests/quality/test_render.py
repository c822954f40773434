"""Markdown and HTML reports: the facts are shown, and user data can never become markup."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest

from trackline.contracts.loader import parse_contract
from trackline.core import duck
from trackline.quality import profile, render_html, render_markdown, slice_report
from trackline.quality.render import fmt_num, fmt_value, md_escape

EVIL = "<script>alert(1)</script>"
EVIL_REASON = '<img src=x onerror="alert(2)">'
CONTRACT = """
name: plays
version: 2
fields:
  genre:   {type: string}
  minutes: {type: float64}
slices: [genre]
metrics: [minutes]
"""


@pytest.fixture(scope="module")
def reports() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    c = parse_contract(CONTRACT, "test.yaml")
    con = duck.connect()
    con.execute("CREATE TABLE plays (genre VARCHAR, minutes DOUBLE)")
    con.execute(
        "INSERT INTO plays SELECT 'rock', 2.0 FROM range(4) UNION ALL "
        "SELECT 'pop', 4.0 FROM range(3) UNION ALL "
        "SELECT $evil, 8.0 UNION ALL SELECT 'a|b', 1.0 UNION ALL SELECT NULL, 3.0",
        {"evil": EVIL},
    )
    reasons = {EVIL_REASON: 2, "required:genre": 1}
    quality = profile(con, "plays", c, rejected_by_reason=reasons, rejected_rows=3, duplicates=1)
    slices = slice_report(con, "plays", c, min_n=2, min_share=0.5)
    run = {
        "run_id": "run-<b>1</b>",
        "dataset": "plays",
        "status": "done",
        "counts": {
            "input": 14,
            "valid": 10,
            "rejected": 3,
            "duplicates": 1,
            "rejected_by_reason": reasons,
        },
    }
    return run, quality, slices


class Tags(HTMLParser):
    """Collects every start tag and attribute the browser would see."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_escapes_user_data(reports: tuple[dict[str, Any], ...]) -> None:
    page = render_html(*reports)
    assert EVIL not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in page
    assert "run-&lt;b&gt;1&lt;/b&gt;" in page
    parser = Tags()
    parser.feed(page)
    assert "script" not in parser.tags
    assert "img" not in parser.tags
    assert "b" not in parser.tags
    assert "onerror" not in parser.attrs
    # Escaped text reads back as the original value.
    assert any(EVIL in t for t in parser.text)


def test_html_is_standalone(reports: tuple[dict[str, Any], ...]) -> None:
    page = render_html(*reports)
    assert page.startswith("<!DOCTYPE html>")
    assert "<style>" in page
    assert "Content-Security-Policy" in page
    assert "<script" not in page
    parser = Tags()
    parser.feed(page)
    assert not {"src", "href"} & set(parser.attrs)  # no external assets
    assert set(parser.tags) <= {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "h1",
        "h2",
        "h3",
        "section",
        "p",
        "div",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    }


def test_html_shows_counts_profile_and_slices(reports: tuple[dict[str, Any], ...]) -> None:
    page = render_html(*reports)
    for text in (
        "plays",
        "done",
        '<td class="r">14</td>',
        "required:genre",
        "<h2>Column profile</h2>",
        "<h3>Slice: genre</h3>",
        "rock (4)",
        "Share disparity (largest / smallest value): 4.",
    ):
        assert text in page, text
    # Values with fewer than 2 rows are flagged and their row highlighted.
    flagged = re.findall(r'<tr class="flagged">(.*?)</tr>', page)
    assert len(flagged) == 3  # the evil value, 'a|b' and NULL each have 1 row
    assert all("small n" in row for row in flagged)
    assert any('class="missing">(missing)' in row for row in flagged)
    # Rows that are fine are not highlighted.
    assert not any(">rock<" in row for row in flagged)


def test_markdown_tables(reports: tuple[dict[str, Any], ...]) -> None:
    md = render_markdown(*reports)
    assert md.startswith("# trackline run report: plays / run-\\<b\\>1\\</b\\>")
    assert "| Input | Valid | Rejected | Duplicates | Accounted for |" in md
    assert "| 14 | 10 | 3 | 1 | yes |" in md
    assert "| Column | Type | Null % | Distinct ≈ | Min | Max | Mean | Std dev | Top values |" in md
    # genre: 1 of 10 NULL; 4 distinct non-null values; rock is the top value.
    genre_row = next(line for line in md.splitlines() if line.startswith("| genre |"))
    assert "| 10% | 4 |" in genre_row
    assert "rock (4) · pop (3)" in genre_row
    # minutes: mean (8 + 12 + 8 + 1 + 3) / 10 = 3.2
    minutes_row = next(line for line in md.splitlines() if line.startswith("| minutes |"))
    assert "| 1 | 8 | 3.2 |" in minutes_row
    # Slice table: rock n=4, share 40%, mean 2, diff -1.2, ratio 0.625, no flag.
    assert "| rock | 4 | 40% | 2 | -1.2 | 0.625 |  |" in md
    assert "| *(missing)* | 1 | 10% | 3 | -0.2 | 0.9375 | **⚠ small n** |" in md
    # Disparity among values with n >= 2: pop 4.0 vs rock 2.0.
    assert "| minutes | pop: 4 | rock: 2 | 2 | 2 | 2 |" in md


def test_markdown_escapes_user_data(reports: tuple[dict[str, Any], ...]) -> None:
    md = render_markdown(*reports)
    assert EVIL not in md
    assert "\\<script\\>alert(1)\\</script\\>" in md
    # A pipe in a value must not add a table column: every row of a table has as many
    # unescaped pipes as its header.
    for block in md.split("\n\n"):
        lines = [ln for ln in block.splitlines() if ln.startswith("|")]
        if lines:
            widths = {len(re.findall(r"(?<!\\)\|", ln)) for ln in lines}
            assert len(widths) == 1, block
    assert "a\\|b" in md


def test_accounting_mismatch_is_flagged(reports: tuple[dict[str, Any], ...]) -> None:
    run, quality, slices = reports
    bad = {**run, "counts": {**run["counts"], "input": 99}}
    assert "NO: input ≠ valid + rejected + duplicates" in render_markdown(bad, quality, slices)
    assert 'class="flag">NO' in render_html(bad, quality, slices)


def test_no_slices_no_metrics_renders() -> None:
    c = parse_contract("name: bare\nversion: 1\nfields:\n  id: {type: int64}\n", "b.yaml")
    con = duck.connect()
    con.execute("CREATE TABLE bare AS SELECT range AS id FROM range(3)")
    q = profile(con, "bare", c, rejected_by_reason={}, rejected_rows=0, duplicates=0)
    s = slice_report(con, "bare", c, min_n=30, min_share=0.5)
    run = {
        "run_id": "r",
        "dataset": "bare",
        "counts": {"input": 3, "valid": 3, "rejected": 0, "duplicates": 0},
    }
    md = render_markdown(run, q, s)
    assert "No rows were rejected." in md
    assert "The contract declares no slice columns." in md
    assert "the contract declares no metrics" in md
    assert "| id | int64 | 0% | 3 | 0 | 2 | 1 | 1 |  |" in md
    assert "The contract declares no slice columns." in render_html(run, q, s)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "–"),
        (12, "12"),
        (1234567, "1,234,567"),
        (3.14159, "3.142"),
        (1234567.8, "1,234,568"),
        (0.000123456, "0.0001235"),
        (-2.5, "-2.5"),
        (True, "true"),
        (float("inf"), "inf"),
    ],
)
def test_fmt_num(value: Any, text: str) -> None:
    assert fmt_num(value) == text


def test_fmt_value() -> None:
    assert fmt_value(None) == "(missing)"
    assert fmt_value("") == '""'
    assert fmt_value("a\nb\tc") == "a b c"
    assert fmt_value("x" * 100, 10) == "x" * 9 + "…"


def test_md_escape() -> None:
    assert md_escape("a|b*c_d\nnext") == "a\\|b\\*c\\_d next"
