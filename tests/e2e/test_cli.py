"""End to end through the `trackline` command."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import CLI

BUILTIN = sorted(
    p.stem for p in (Path(__file__).parents[2] / "src/trackline/contracts/builtin").glob("*.yaml")
)


def test_generate_ingest_query_runs_report(cli: CLI, tmp_path: Path) -> None:
    data = tmp_path / "listens.ndjson"
    r = cli(
        "generate",
        "listens",
        "--count",
        "800",
        "--invalid-share",
        "0.1",
        "--seed",
        "3",
        "--out",
        str(data),
        "--json",
    )
    assert r.code == 0, r.err
    generated = r.json()
    assert generated["count"] == 800 and data.exists()

    r = cli("ingest", str(data), "--dataset", "listens", "--json")
    assert r.code == 0, r.err
    run = r.json()
    c = run["counts"]
    assert c["input"] == 800
    assert c["input"] == c["valid"] + c["rejected"] + c["duplicates"]
    assert c["rejected"] > 0 and c["rejected_by_reason"]
    assert c["duplicates"] == generated["duplicates"]
    assert set(run["paths"]) >= {"raw", "curated", "rejected", "reports", "manifest"}

    r = cli("query", "SELECT count(*) AS n FROM listens", "--json")
    assert r.code == 0, r.err
    assert r.json() == [{"n": c["valid"]}]

    r = cli("ingest", str(data), "--dataset", "listens", "--json")
    assert r.code == 0 and r.json()["skipped"] is True
    assert "nothing added" in r.json()["message"]

    r = cli("runs", "--json")
    assert [x["run_id"] for x in r.json()] == [run["run_id"]]
    r = cli("runs", "show", run["run_id"][:8], "--json")
    assert r.code == 0, r.err
    assert r.json()["counts"]["valid"] == c["valid"]
    r = cli("runs", "show", run["run_id"])
    assert r.code == 0 and "input 800 = valid" in r.out

    r = cli("report", run["run_id"], "--json")
    assert r.code == 0, r.err
    report = r.json()
    assert report["quality"]["rows"] == c["valid"]
    assert {"genre", "country"} <= set(report["slices"]["slices"])
    r = cli("report", run["run_id"])
    assert r.code == 0 and "genre" in r.out and "HTML report" in r.out


def test_unusable_calls_exit_2_with_one_line(cli: CLI, tmp_path: Path) -> None:
    for args, words in [
        (("ingest", "nope.ndjson", "--dataset", "listens"), "nope.ndjson"),
        (("ingest", str(tmp_path), "--dataset", "no_such_dataset"), "unknown dataset"),
        (("contracts", "show", "nope"), "unknown dataset"),
        (("runs", "show", "rdeadbeef"), "no run"),
        (("generate", "listens", "--count", "5", "--out", "x.xlsx"), "xlsx"),
    ]:
        r = cli(*args)
        assert r.code == 2, (args, r.err)
        lines = [ln for ln in r.err.strip().splitlines() if ln.strip()]
        assert len(lines) == 1 and words in lines[0], (args, r.err)
        assert "Traceback" not in r.err


def test_query_is_read_only(cli: CLI, tmp_path: Path) -> None:
    data = tmp_path / "u.ndjson"
    assert cli("generate", "users", "--count", "20", "--out", str(data)).code == 0
    assert cli("ingest", str(data), "--dataset", "users").code == 0
    for sql in (
        "DELETE FROM users",
        "DROP TABLE users",
        "COPY users TO 'x.csv'",
        "SELECT 1; SELECT 2",
    ):
        r = cli("query", sql)
        assert r.code == 2, (sql, r.err)
    r = cli("query", "SELECT count(*) AS n FROM users", "--json")
    assert r.json()[0]["n"] > 0


def test_contracts_and_user_contract_errors(cli: CLI, tmp_path: Path) -> None:
    r = cli("contracts", "list", "--json")
    assert r.code == 0 and sorted(c["name"] for c in r.json()) == BUILTIN
    r = cli("contracts", "show", "playlist_tracks")
    assert r.code == 0 and "likes_not_above_views" in r.out
    folder = tmp_path / "contracts"
    folder.mkdir()
    (folder / "mine.yaml").write_text(
        "name: mine\nversion: 1\nfields:\n  a: {type: string}\nrules:\n  r1: b > 1\n"
    )
    r = cli("contracts", "list", extra_env={"TRACKLINE_CONTRACTS_DIR": str(folder)})
    assert r.code == 2
    assert "mine.yaml:6:" in r.err and "unknown column 'b'" in r.err and "fix:" in r.err


def test_debug_shows_traceback(cli: CLI) -> None:
    r = cli("--debug", "ingest", "nope.ndjson", "--dataset", "listens")
    assert r.code == 2 and "Traceback" in r.err


def test_demo_runs_every_dataset(cli: CLI) -> None:
    r = cli("demo", "--count", "300", "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert sorted(run["dataset"] for run in doc["runs"]) == BUILTIN
    for run in doc["runs"]:
        c = run["counts"]
        assert c["input"] == c["valid"] + c["rejected"] + c["duplicates"]
        assert c["valid"] > 0
    assert doc["rerun"]["counts"]["valid"] == 0
    assert doc["session"]["result"] == "done" and len(doc["session"]["users"]) == 3
    r = cli("demo", "--count", "200")
    assert r.code == 0 and "where to look" in r.out and "trackline" in r.out
