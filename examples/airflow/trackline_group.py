"""A ready Airflow DAG: fetch a friend group's listening every hour, ingest, model, analyse
and gate on quality. Copy this file into your Airflow dags folder.

The workers need `pip install 'trackline[airflow,dbt]'` and the same trackline settings as
your CLI (`TRACKLINE_HOME`, or remote `TRACKLINE_LAKE_URI` / `TRACKLINE_STATE_URI`, the API
client ids; see docs/orchestrate.md). Create the group first:

    trackline users add ana --spotify-refresh-token-stdin < ana.token
    trackline groups create listening-club --user ana --user ben
"""

from __future__ import annotations

import os

from trackline.orchestrate.airflow import friend_group_dag

GROUP = os.environ.get("TRACKLINE_AIRFLOW_GROUP", "listening-club")
SCHEDULE = os.environ.get("TRACKLINE_AIRFLOW_SCHEDULE", "@hourly")

dag = friend_group_dag(GROUP, schedule=SCHEDULE)
