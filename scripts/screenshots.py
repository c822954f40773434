"""Regenerate the dashboard screenshots in docs/img/ (the README shows them).

Builds a small home with something on every page (the tests' data: two batch runs, a stream,
users, a group, a session), serves the dashboard on a free loopback port and photographs each
page with Debian's Chromium through Playwright.

    .venv/bin/python scripts/screenshots.py            # writes docs/img/dashboard-*.png
    .venv/bin/python scripts/screenshots.py --out DIR
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.web.dashboard.data builds the home

PAGES = {
    "overview": "/",
    "runs": "/runs",
    "run": "/runs/{run}",
    "quality": "/quality?run={run2}",
    "bias": "/bias?run={run}",
    "drift": "/drift?dataset=listening_events&a={run}&b={run2}",
    "rejected": "/rejected?run={run}",
    "stream": "/stream",
    "sessions": "/sessions/{session}",
    "group": "/group?group=club",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    from tests.web.conftest import serve_app
    from tests.web.dashboard.conftest import CHROMIUM, CHROMIUM_ARGS, wait_for_group
    from tests.web.dashboard.data import build

    from trackline.web.dashboard.app import create_app

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        made = build(Path(tmp) / "home")
        values = {
            "run": made["runs"][0],
            "run2": made["runs"][1],
            "session": made["session"],
        }
        with serve_app(create_app(made["settings"])) as url, sync_playwright() as pw:
            wait_for_group(url)
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            for name, path in PAGES.items():
                response = page.goto(url + path.format(**values))
                if response is None or response.status != 200:
                    raise SystemExit(f"{path}: HTTP {response.status if response else '?'}")
                target = args.out / f"dashboard-{name}.png"
                page.screenshot(path=str(target), full_page=False)
                shown = target.relative_to(ROOT) if target.is_relative_to(ROOT) else target
                print(f"wrote {shown}")
            browser.close()


if __name__ == "__main__":
    main()
