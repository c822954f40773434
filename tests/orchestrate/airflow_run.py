"""Run `friend_group_dag` with Airflow's own `dag.test()` in this process and print one JSON
document: the DAG run's state, every task instance (mapped ones by index) and the XComs.

Run by tests/orchestrate/test_airflow.py in a fresh process whose AIRFLOW_HOME is a temporary
folder with a migrated SQLite database, so Airflow's configuration never leaks between tests.
`dag.test()` runs the DAG as its dags folder defines it, so the test writes there a file that
calls `build()` with the same arguments (env `TL_TEST_DAG_ARGS`: group, settings, select,
policies). Usage: python -m tests.orchestrate.airflow_run
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from trackline.orchestrate.airflow import TaskPolicy, friend_group_dag

DAG_FILE = """
import json, os
from tests.orchestrate.airflow_run import build
dag = build(json.loads(os.environ["TL_TEST_DAG_ARGS"]))
"""


def build(args: dict[str, Any]) -> Any:
    policies = {
        name: TaskPolicy(retries=p["retries"], timeout=timedelta(seconds=p["timeout"]),
                         retry_delay=timedelta(seconds=p.get("retry_delay", 0)))
        for name, p in args.get("policies", {}).items()
    }  # fmt: skip
    return friend_group_dag(
        args["group"], settings=args["settings"], select=args.get("select"), policies=policies
    )


def main() -> dict[str, Any]:
    dag = build(json.loads(os.environ["TL_TEST_DAG_ARGS"]))
    run = dag.test(logical_date=datetime.now(UTC))
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    tasks = []
    xcoms: dict[str, Any] = {}
    with create_session() as session:
        for ti in run.get_task_instances(session=session):
            tasks.append(
                {
                    "task_id": ti.task_id,
                    "map_index": ti.map_index,
                    "state": str(ti.state),
                    "try_number": ti.try_number,
                    "label": ti.rendered_map_index,
                }
            )
        rows = session.query(XComModel).filter(XComModel.run_id == run.run_id).all()
        for x in rows:
            key = x.task_id if x.map_index < 0 else f"{x.task_id}[{x.map_index}]"
            xcoms[key] = _decoded(x.value)
    return {"state": str(run.state), "tasks": tasks, "xcom": xcoms}


def _decoded(value: Any) -> Any:
    """An XCom's value as stored: JSON text (or bytes) in Airflow 3's metadata table."""
    if isinstance(value, bytes | str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


if __name__ == "__main__":
    print("TRACKLINE-RESULT " + json.dumps(main(), default=str))
