"""The Airflow DAG run by Airflow itself (`dag.test()` on SQLite) against the fake APIs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.orchestrate.airflow_run import DAG_FILE
from tests.orchestrate.conftest import GROUP, Club
from tests.warehouse_rows import warehouse_rows

pytest.importorskip("airflow.sdk")
ROOT = Path(__file__).resolve().parents[2]
#: Short limits so a hang fails the test instead of stalling CI; fetches may retry once.
POLICIES = {
    "plan": {"retries": 0, "timeout": 120},
    "fetch": {"retries": 1, "timeout": 300, "retry_delay": 0},
    "ingest": {"retries": 0, "timeout": 300},
    "model": {"retries": 0, "timeout": 600},
    "analytics": {"retries": 0, "timeout": 120},
    "quality_gate": {"retries": 0, "timeout": 120},
}
SELECT = ["+user_top_tracks"]  # one mart and what it needs: the whole project is slow


def airflow_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKLINE_", "AIRFLOW_"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
    )
    return env


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("airflow")
    (home / "dags").mkdir(parents=True)
    proc = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=airflow_env(home), capture_output=True, text=True, timeout=120, cwd=home,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return home


def run_dag(airflow_home: Path, args: dict[str, Any]) -> dict[str, Any]:
    (airflow_home / "dags" / "club.py").write_text(DAG_FILE)
    env = {
        **airflow_env(airflow_home),
        "TL_TEST_DAG_ARGS": json.dumps(args),
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "tests.orchestrate.airflow_run"],
        env=env, capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    (airflow_home / "run.log").write_text(proc.stdout + proc.stderr)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("TRACKLINE-RESULT ")]
    assert lines, proc.stdout[-3000:] + proc.stderr[-5000:]
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("TRACKLINE-RESULT "))
    return result


def test_dag_runs_the_group_and_a_failing_member_fails_only_its_own_fetch(
    airflow_home: Path, club: Club
) -> None:
    # ben's YouTube fetch meets an outage at Google's token endpoint (a 500 the HTTP client
    # does not repeat: a refresh is not idempotent): a transient failure, which Airflow retries
    club.fake.faults.script("/google/token", ["500"])
    result = run_dag(
        airflow_home,
        {"group": GROUP, "settings": club.overrides, "select": SELECT, "policies": POLICIES},
    )
    states = {(t["task_id"], t["label"]): t for t in result["tasks"]}
    fetches = {label: t for (tid, label), t in states.items() if tid == "fetch"}
    assert set(fetches) == {"spotify/ana", "spotify/ben", "youtube/ben", "spotify/cy"}, result[
        "tasks"
    ]
    assert fetches["spotify/ana"]["state"] == "success", result["tasks"]
    assert fetches["spotify/ben"]["state"] == "success", result["tasks"]
    # the revoked token fails its own mapped task, at once: a retry cannot fix invalid_grant
    assert fetches["spotify/cy"]["state"] == "failed"
    assert fetches["spotify/cy"]["try_number"] == 1
    # the outage cost ben's YouTube fetch one retry, which succeeded
    tries = {label: t["try_number"] for label, t in fetches.items()}
    assert tries == {"spotify/ana": 1, "spotify/ben": 1, "youtube/ben": 2, "spotify/cy": 1}, (
        result["tasks"],
        (airflow_home / "run.log").read_text()[-4000:],
    )
    assert fetches["youtube/ben"]["state"] == "success"
    for tid in ("plan", "ingest", "model", "analytics", "quality_gate"):
        assert states[(tid, None)]["state"] == "success", (tid, result["tasks"])
    # Airflow sets a run's state from its last tasks: the gate passed, so the run succeeded;
    # cy's failure stays on cy's own mapped task
    assert result["state"] == "success"

    # run ids went from ingest to the gate through XCom, and are the warehouse's runs
    runs = result["xcom"]["ingest"]
    gate = result["xcom"]["quality_gate"]
    assert set(runs) >= {"listens", "top_tracks", "top_artists", "playlist_tracks"}
    assert {d: r["run_id"] for d, r in runs.items()} == {d: g["run_id"] for d, g in gate.items()}
    recorded = dict(warehouse_rows(club.settings, "SELECT run_id, dataset FROM meta.runs"))
    assert {r["run_id"] for r in runs.values()} <= set(recorded)

    users = {r[0] for r in warehouse_rows(club.settings, "SELECT DISTINCT user_id FROM listens")}
    assert users == {"ana", "ben"}
    listens = warehouse_rows(club.settings, "SELECT count(*) FROM listens")[0][0]
    assert listens == runs["listens"]["valid"] > 0
    top = warehouse_rows(club.settings, "SELECT count(DISTINCT user_id) FROM marts.user_top_tracks")
    assert top[0][0] == 2  # the model task built the marts from what was ingested
    assert result["xcom"]["analytics"]["members"] == ["ana", "ben", "cy"]
    assert result["xcom"]["analytics"]["plays"] == {"ana": 40, "ben": 40, "cy": 0}


def test_the_example_dag_file_parses_into_the_flow(airflow_home: Path, tmp_path: Path) -> None:
    code = (
        "import json; from airflow.dag_processing.dagbag import DagBag; "
        f"bag = DagBag(dag_folder={str(ROOT / 'examples' / 'airflow')!r}); "
        "dag = bag.dags.get('trackline_group_listening-club'); "
        "print(json.dumps({'errors': list(bag.import_errors.values()), "
        "'tasks': sorted(dag.task_ids) if dag else None, "
        "'schedule': str(dag.schedule) if dag else None}))"
    )
    env = {**airflow_env(airflow_home), "TRACKLINE_HOME": str(tmp_path / "home")}
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    assert doc["errors"] == []
    assert doc["tasks"] == ["analytics", "fetch", "ingest", "model", "plan", "quality_gate"]
    assert doc["schedule"] == "@hourly"
