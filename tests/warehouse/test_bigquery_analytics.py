"""Recommendations and daily aggregates on the BigQuery warehouse, against the emulator: the
same listens loaded into a DuckDB home and a BigQuery dataset give the same answers (the
local DuckDB file of the BigQuery home is never written, so its answers can only be BigQuery's).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from tests.services import require
from tests.warehouse.bigquery_emulator import BigQueryCLI, bigquery_settings
from trackline.analytics.members import set_members
from trackline.analytics.plays import COLUMNS, activity_sql
from trackline.config import Settings
from trackline.engines.local import LocalEngine
from trackline.generate.writers import write
from trackline.serving import open_store
from trackline.serving.aggregate import aggregate_day, daily_aggregates
from trackline.warehouse.bigquery_copy import local_copy
from trackline.warehouse.duckdb import DuckDBWarehouse


def _listening(tmp_path: Path) -> tuple[Path, Path]:
    listens, events = tmp_path / "listens.ndjson", tmp_path / "events.ndjson"
    write("listens", 1500, listens, seed=11)
    write("listening_events", 400, events, seed=12)
    return listens, events


def _busiest_day(path: Path, field: str) -> date:
    days = Counter(json.loads(line)[field][:10] for line in path.read_text().splitlines())
    return date.fromisoformat(days.most_common(1)[0][0])


def _ranked(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Recommendations with scores to 9 places, in rank order with ties by id: sums taken in
    another row order may differ in the last bit (and so swap two tied tracks)."""
    rounded = [r | {"score": round(r["score"], 9)} for r in recs]
    return sorted(rounded, key=lambda r: (-r["score"], r["track_id"]))


def _loaded(tmp_path: Path) -> tuple[Settings, Settings, Path, Path]:
    """A BigQuery home and a DuckDB home holding the same listens and listening events."""
    bq = bigquery_settings(tmp_path / "bq", "a")
    local = Settings.load(home=tmp_path / "local")
    listens, events = _listening(tmp_path)
    for settings in (bq, local):
        engine = LocalEngine(settings)
        assert engine.ingest([str(listens)], "listens").manifest.counts.valid > 0
        assert engine.ingest([str(events)], "listening_events").manifest.counts.valid > 0
    return bq, local, listens, events


def test_recommend_on_bigquery_matches_the_duckdb_warehouse(tmp_path: Path) -> None:
    endpoint = require("bigquery")
    (tmp_path / "b").mkdir()
    (tmp_path / "d").mkdir()
    on_bq = BigQueryCLI(tmp_path / "b", endpoint)
    on_duck = BigQueryCLI(tmp_path / "d", endpoint)
    on_duck.env = {
        k: v
        for k, v in on_duck.env.items()
        if k not in ("TRACKLINE_WAREHOUSE_URI", "TRACKLINE_BIGQUERY_ENDPOINT")
    }
    listens, events = _listening(tmp_path)
    for run in (on_bq, on_duck):
        assert run("ingest", str(listens), "--dataset", "listens", "--json")["counts"]["valid"]
        assert run("ingest", str(events), "--dataset", "listening_events", "--json")["counts"]
    users = Counter(json.loads(line)["user_id"] for line in listens.read_text().splitlines())
    busiest, other = (u for u, _ in users.most_common(2))
    asks = [
        ("--user", busiest, "--method", "knn"),
        ("--user", busiest, "--user", other, "--method", "knn"),
        ("--user", busiest, "--method", "als", "--seed", "5"),
    ]
    for ask in asks:
        got = on_bq("recommend", *ask, "--n", "10", "--json")
        want = on_duck("recommend", *ask, "--n", "10", "--json")
        assert len(want["recommendations"]) == 10, ask
        assert _ranked(got["recommendations"]) == _ranked(want["recommendations"]), ask
    unknown = on_bq("recommend", "--user", "nobody_here", code=2).stderr
    assert unknown == on_duck("recommend", "--user", "nobody_here", code=2).stderr
    assert "no user 'nobody_here'" in unknown and "Traceback" not in unknown


def test_aggregate_day_on_bigquery_writes_what_the_duckdb_warehouse_does(
    tmp_path: Path,
) -> None:
    bq, local, listens, _ = _loaded(tmp_path)
    day = _busiest_day(listens, "played_at")
    wh = DuckDBWarehouse(local.warehouse, local, read_only=True)
    try:
        want = daily_aggregates(wh.con, day, min_play_ms=local.min_play_ms)
    finally:
        wh.close()
    assert any(r["dimension"] == "genre" and r["plays"] > 0 for r in want)

    got, expected = aggregate_day(bq, day), aggregate_day(local, day)
    assert got["written"] == expected["written"] == len(want)
    assert got["rows"] == expected["rows"]
    with open_store(bq.serving) as on_bq, open_store(local.serving) as on_duck:
        assert on_bq.uri != on_duck.uri  # each home its own sqlite store
        for r in want:
            stored = on_bq.get_daily_aggregates(r["dimension"], str(r["value"]), day)
            assert stored is not None and stored == on_duck.get_daily_aggregates(
                r["dimension"], str(r["value"]), day
            )
    assert aggregate_day(bq, date(2001, 1, 1))["written"] == 0  # a day without data


def test_the_copy_holds_only_the_columns_and_the_day_asked_for(tmp_path: Path) -> None:
    bq, local, listens, _ = _loaded(tmp_path)
    day = _busiest_day(listens, "played_at")
    users = sorted({json.loads(line)["user_id"] for line in listens.read_text().splitlines()})[:3]
    per_day = (
        "SELECT count(*) FROM main.{t} WHERE CAST(timezone('UTC', {c}) AS DATE) = $day"
    )  # fmt: skip
    wh = DuckDBWarehouse(local.warehouse, local, read_only=True)
    try:
        want_day = {
            t: wh.con.execute(per_day.format(t=t, c=c), {"day": day}).fetchone()
            for t, c in (("listens", "played_at"), ("listening_events", '"timestamp"'))
        }
        want_users = wh.con.execute(
            "SELECT count(*) FROM main.listens WHERE list_contains($u, user_id)", {"u": users}
        ).fetchone()
    finally:
        wh.close()

    con = local_copy(bq, day=day)
    try:
        for table, columns in COLUMNS.items():
            held = [r[0] for r in con.execute(f"DESCRIBE main.{table}").fetchall()]
            assert held == list(columns)
            assert con.execute(f"SELECT count(*) FROM main.{table}").fetchone() == want_day[table]
        assert not con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'meta'"
        ).fetchone()[0]  # type: ignore[index]
    finally:
        con.close()
    set_members(bq, "club", [users[0], "zed"])  # zed is not asked for: not copied
    con = local_copy(bq, users=users, groups_of=users)
    try:
        assert con.execute("SELECT count(*) FROM main.listens").fetchone() == want_users
        assert con.execute("SELECT * FROM meta.groups").fetchall() == [("club", users[0])]
    finally:
        con.close()


def test_the_activity_sql_reads_no_column_the_copy_leaves_out() -> None:
    """Tables holding only `plays.COLUMNS` are enough for the activity SQL (a column it starts
    to read must be copied from BigQuery too)."""
    types = {"played_at": "TIMESTAMPTZ", "timestamp": "TIMESTAMPTZ", "ms_played": "BIGINT",
             "minutes_played": "DOUBLE", "skipped": "BOOLEAN"}  # fmt: skip
    con = duckdb.connect()
    try:
        for table, columns in COLUMNS.items():
            cols = ", ".join(f'"{c}" {types.get(c, "VARCHAR")}' for c in columns)
            con.execute(f"CREATE TABLE main.{table} ({cols})")
        con.execute("INSERT INTO listens (user_id, track_id, played_at) VALUES ('u', 't', now())")
        sql = f"SELECT user_id, is_play FROM ({activity_sql(con, min_play_ms=30_000)})"
        assert con.execute(sql).fetchall() == [("u", True)]
    finally:
        con.close()
