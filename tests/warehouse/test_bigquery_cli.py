"""A user's session on the BigQuery warehouse, through the CLI, against the emulator:
ingest, ingest again, force it, then query, runs and report read what BigQuery holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from tests.services import require
from trackline.generate.writers import write


class BigQueryCLI:
    """`trackline` in a subprocess, with a home of its own and a fresh BigQuery dataset on the
    emulator (nothing of the caller's TRACKLINE_* settings leaks in)."""

    def __init__(self, tmp_path: Path, endpoint: str) -> None:
        self.cwd = tmp_path
        self.uri = f"bigquery://trackline-test/cli_{uuid.uuid4().hex[:12]}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLINE_")}
        self.env |= {
            "TRACKLINE_HOME": str(tmp_path / "home"),
            "TRACKLINE_WAREHOUSE_URI": self.uri,
            "TRACKLINE_BIGQUERY_ENDPOINT": endpoint,
        }

    def __call__(self, *args: str, code: int = 0) -> Any:
        proc = subprocess.run(
            [sys.executable, "-m", "trackline", *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == code, proc.stderr[-2000:]
        return json.loads(proc.stdout) if "--json" in args and proc.stdout.strip() else proc


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
