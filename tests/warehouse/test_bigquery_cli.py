"""A user's session on the BigQuery warehouse, through the CLI, against the emulator:
ingest, ingest again, force it, then query, runs and report read what BigQuery holds."""

from __future__ import annotations

import json
from pathlib import Path

from tests.services import require
from tests.warehouse.bigquery_emulator import BigQueryCLI
from trackline.generate.writers import write


def test_ingest_rerun_query_runs_report_on_bigquery(tmp_path: Path) -> None:
    run = BigQueryCLI(tmp_path, require("bigquery"))

    data = tmp_path / "orders.ndjson"
    made = write("orders", 400, data, invalid_share=0.1, seed=7)
    first = run("ingest", str(data), "--dataset", "orders", "--json")
    counts = first["counts"]
    assert (
        counts["input"] == made.count == counts["valid"] + counts["rejected"] + counts["duplicates"]
    )
    assert counts["rejected"] > 0 and counts["valid"] > 0
    assert first["paths"]["warehouse"] == run.uri
    assert run("ingest", str(data), "--dataset", "orders", "--json")["skipped"] is True
    again = run("ingest", str(data), "--dataset", "orders", "--force", "--json")
    forced, forced_id = again["counts"], again["run_id"]
    assert forced["valid"] == 0
    assert forced["duplicates_in_warehouse"] == counts["valid"] + counts["duplicates_in_input"]

    shown = run("config", "show", "--json")["resolved"]
    assert shown["warehouse"] == run.uri
    refused = run("query", "DELETE FROM orders", code=2)
    assert "read-only" in refused.stderr
    [held] = run(
        "query",
        "SELECT count(*) AS n, count(DISTINCT event_id) AS k, count(DISTINCT run_id) AS runs, "
        "(SELECT count(*) FROM meta.rejected WHERE source_line > 0 AND len(reasons) > 0) AS r "
        "FROM main.orders",
        "--json",
    )
    # every valid row once, from the first run; both checked runs kept their rejected rows
    assert held == {
        "n": counts["valid"],
        "k": counts["valid"],
        "runs": 1,
        "r": 2 * counts["rejected"],
    }
    runs = run("runs", "--json")
    assert [r["run_id"] for r in runs] == [forced_id, first["run_id"]]
    assert {r["status"] for r in runs} == {"done"}
    assert runs[1]["valid_rows"] == counts["valid"] and runs[0]["valid_rows"] == 0
    report = run("report", first["run_id"][:8], "--json")
    assert report["run_id"] == first["run_id"] and report["quality"] and report["slices"]


def test_groups_create_ingest_then_analytics_group_on_bigquery(tmp_path: Path) -> None:
    """A user's friend-group report on BigQuery: the plays counted are BigQuery's rows."""
    run = BigQueryCLI(tmp_path, require("bigquery"))

    data = tmp_path / "listens.ndjson"
    write("listens", 300, data, seed=21)
    users = sorted({json.loads(line)["user_id"] for line in data.read_text().splitlines()})[:2]
    for u in users:
        run("users", "add", u)
    run("groups", "create", "club", *(a for u in users for a in ("--user", u)))
    assert run("ingest", str(data), "--dataset", "listens", "--json")["counts"]["valid"] > 0
    report = run("analytics", "group", "--group", "club", "--json")
    assert report["group"] == "club" and report["members"] == users
    # the local DuckDB file is never written on BigQuery: these plays can only be BigQuery's
    assert all(report["per_member"][u]["plays"] > 0 for u in users)
    assert len(report["overlap"]) == 1  # the one pair
