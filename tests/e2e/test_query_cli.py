"""`trackline query` as a user (or an attacker) runs it: only reads, honest exit codes, strict
JSON."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import Result


@dataclass
class Project:
    home: Path
    cwd: Path  # where the command runs; also HOME, where DuckDB keeps extensions and secrets

    def run(self, *args: str) -> Result:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLINE_")}
        env.update(TRACKLINE_HOME=str(self.home), HOME=str(self.cwd))
        proc = subprocess.run(
            [sys.executable, "-m", "trackline", *args],
            cwd=self.cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A home with listens and users ingested and the dbt marts built."""
    root = tmp_path_factory.mktemp("query")
    p = Project(root / "home", root / "work")
    p.cwd.mkdir()
    for dataset, count in (("listens", "400"), ("users", "20")):
        made = p.run("generate", dataset, "--count", count, "--out", f"{dataset}.ndjson")
        assert made.code == 0, made.err
        loaded = p.run("ingest", f"{dataset}.ndjson", "--dataset", dataset)
        assert loaded.code == 0, loaded.err
    built = p.run("model", "--json")
    assert built.code == 0, built.err[-3000:]
    return p


def one_line(r: Result) -> str:
    lines = [ln for ln in r.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.err, r.err
    return lines[0]


def test_ordinary_queries_marts_and_meta_still_work(project: Project) -> None:
    r = project.run("query", "SELECT count(*) AS n FROM users", "--json")
    assert r.code == 0, r.err
    assert r.json() == [{"n": 20}]
    r = project.run("query", "SELECT sum(plays) AS plays FROM marts.user_top_tracks", "--json")
    assert r.code == 0, r.err
    assert r.json()[0]["plays"] > 0
    r = project.run("query", "SELECT dataset, status FROM meta.runs ORDER BY dataset", "--json")
    assert r.code == 0, r.err
    assert r.json() == [
        {"dataset": "listens", "status": "done"},
        {"dataset": "users", "status": "done"},
    ]
    for sql in ("EXPLAIN SELECT * FROM users", "PRAGMA database_size", "SUMMARIZE users"):
        r = project.run("query", sql)
        assert r.code == 0, (sql, r.err)


def attacks(project: Project) -> list[str]:
    secret = project.home / "state.db"  # refresh tokens live here; the key beside it
    assert secret.exists()
    return [
        "EXPLAIN ANALYZE COPY (SELECT 1) TO 'explained.csv'",
        f"PRAGMA import_database('{project.cwd}')",
        "SELECT * FROM read_text('/etc/passwd')",
        f"SELECT * FROM read_blob('{secret}')",
        "SELECT * FROM glob('*')",
        "SELECT * FROM read_csv('/etc/passwd')",
        f"SELECT * FROM read_parquet('{project.home}/lake/**/*.parquet')",
        "SET enable_external_access = true",
        "ATTACH 'other.duckdb' AS other",
        "ATTACH ':memory:' AS scratch",
        "INSTALL httpfs",
        "LOAD httpfs",
        "COPY users TO 'users.csv'",
        "EXPORT DATABASE 'dump'",
        "CALL enable_logging(storage = 'file', storage_path = 'log')",
        "PRAGMA enable_profiling",
        "CHECKPOINT",
        "DELETE FROM users",
    ]


def test_each_attack_is_refused_with_exit_2_and_one_line(project: Project) -> None:
    for sql in attacks(project):
        r = project.run("query", sql, "--json")
        assert r.code == 2, (sql, r.code, r.out, r.err)
        line = one_line(r)
        assert line.startswith("error: "), (sql, line)
        assert not r.out or "error" in json.loads(r.out), (sql, r.out)  # no rows
    # nothing was written next to the user, and no extension was fetched or installed
    assert sorted(x.name for x in project.cwd.iterdir()) == ["listens.ndjson", "users.ndjson"]


def test_a_remote_url_is_refused_without_the_network(project: Project) -> None:
    started = time.monotonic()
    r = project.run("query", "SELECT * FROM read_parquet('https://example.com/x.parquet')")
    assert r.code == 2, r.err
    assert "refused" in one_line(r)
    assert time.monotonic() - started < 60
    assert not (project.cwd / ".duckdb").exists()  # no extension installed or even looked up


def test_refusal_names_what_is_allowed(project: Project) -> None:
    r = project.run("query", "SELECT * FROM read_text('/etc/passwd')")
    assert "query refused" in one_line(r) and "reads only the warehouse" in r.err


def test_unusable_sql_exits_2_and_runtime_failures_exit_1(project: Project) -> None:
    for sql in ("SELEC 1", "SELECT * FROM no_such_table", "SELECT no_such_column FROM users"):
        r = project.run("query", sql)
        assert r.code == 2, (sql, r.err)
        one_line(r)
    for sql in (
        "SELECT CAST('' AS INTEGER)",
        "SELECT CAST(user_id AS INTEGER) FROM listens",
        "SELECT error('boom')",
        "SELECT 'infinity'::TIMESTAMP AS t",
    ):
        r = project.run("query", sql, "--json")
        assert r.code == 1, (sql, r.err)
        assert one_line(r).startswith("error: query failed"), (sql, r.err)


def test_json_is_strict_with_null_base64_and_utc_timestamps(project: Project) -> None:
    sql = (
        "SELECT 'nan'::DOUBLE AS nan, 'inf'::DOUBLE AS inf, '-inf'::FLOAT AS neg, "
        "1.5::DOUBLE AS x, "
        "'\\x00\\xffab'::BLOB AS blob, TIMESTAMPTZ '2024-05-01 12:30:00+02' AS tz, "
        "TIMESTAMP '2024-05-01 10:30:00.25' AS naive, DATE '2024-05-01' AS day, "
        "['nan'::DOUBLE, 2.0] AS list, {'b': '\\x01'::BLOB} AS struct, 1.50::DECIMAL(5,2) AS dec, "
        "sum(x) AS total FROM (VALUES (9223372036854775807), (1)) v(x)"
    )
    r = project.run("query", sql, "--json")
    assert r.code == 0, r.err
    strict = json.loads(r.out, parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
    assert strict == [
        {
            "nan": None,
            "inf": None,
            "neg": None,
            "x": 1.5,
            "blob": base64.b64encode(b"\x00\xffab").decode(),
            "tz": "2024-05-01T10:30:00Z",
            "naive": "2024-05-01T10:30:00.250000Z",
            "day": "2024-05-01",
            "list": [None, 2.0],
            "struct": {"b": "AQ=="},
            "dec": "1.50",
            "total": 9223372036854775808,
        }
    ]
