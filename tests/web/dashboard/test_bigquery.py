"""The dashboard on the BigQuery warehouse (the emulator): the same pages, read through the
warehouse protocol (DuckDB-dialect SQL translated by the BigQuery warehouse)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.services import require
from tests.warehouse.bigquery_emulator import BigQueryCLI
from trackline.generate.writers import write


def test_pages_read_a_bigquery_warehouse(tmp_path: Path) -> None:
    run = BigQueryCLI(tmp_path, require("bigquery"))
    data = tmp_path / "orders.ndjson"
    write("orders", 200, data, invalid_share=0.1, seed=7)
    run("-q", "ingest", str(data), "-d", "orders")

    from starlette.testclient import TestClient

    from trackline.web.dashboard.app import create_app

    client = TestClient(create_app(run.settings()))
    runs = client.get("/runs")
    assert runs.status_code == 200
    (run_id,) = re.findall(r'href="/runs/([^"]+)"', runs.text)[:1]
    paths = ["/", f"/runs/{run_id}", f"/quality?run={run_id}", f"/bias?run={run_id}",
             f"/rejected?run={run_id}", "/drift", "/stream", "/sessions"]  # fmt: skip
    for path in paths:
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[-500:])
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", client.get(f"/runs/{run_id}").text))
    assert re.search(r"200 in = \d+ valid \+ \d+ rejected \+ \d+ duplicates ✓", page)
    rows = client.get(f"/rejected.csv?run={run_id}").text.strip().splitlines()
    assert len(rows) > 1 and rows[0].startswith("run_id,dataset,record")
    assert client.get("/runs/rnosuch").status_code == 404


def test_group_page_reads_the_members_plays_from_bigquery(tmp_path: Path) -> None:
    """The group page on BigQuery: the members' plays and the recommendations come from
    BigQuery's rows (the local DuckDB file is never written there)."""
    import json
    import time

    cli = BigQueryCLI(tmp_path, require("bigquery"))

    def run(*args: str) -> None:
        cli("-q", *args)

    data = tmp_path / "listens.ndjson"
    write("listens", 300, data, seed=21)
    users = sorted({json.loads(line)["user_id"] for line in data.read_text().splitlines()})[:2]
    for u in users:
        run("users", "add", u)
    run("groups", "create", "club", *(a for u in users for a in ("--user", u)))
    run("ingest", str(data), "--dataset", "listens")

    from starlette.testclient import TestClient

    from trackline.web.dashboard.app import create_app

    client = TestClient(create_app(cli.settings()))
    deadline = time.monotonic() + 120
    while 'id="computing"' in (page := client.get("/group?group=club").text):
        assert time.monotonic() < deadline, "the group report was never ready"
        time.sleep(0.5)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "read the DuckDB warehouse" not in text.split("Recommendations")[0]
    for u in users:  # each member's plays, counted from BigQuery's rows
        m = re.search(rf"{re.escape(u)} · (\d+) plays", text)
        assert m is not None and int(m.group(1)) > 0, text[:1500]
    recs = page.split('<table id="recs">')[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>.*?</tr>", recs)
    assert len(rows) == 10, recs  # the page asks for 10, from everyone's plays on BigQuery
    assert all(re.search(r"listened to by|popular", r) for r in rows), recs
