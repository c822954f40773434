"""Ready Dagster definitions for a friend group: `dagster dev -f definitions.py`.

Needs `pip install 'trackline[dagster,dbt]'` and your trackline settings in the environment
(`TRACKLINE_HOME`, API client ids; see docs/orchestrate.md). Create the group first with
`trackline groups create listening-club --user ana --user ben`.
"""

from __future__ import annotations

import os

from trackline.orchestrate.dagster import friend_group_definitions

defs = friend_group_definitions(os.environ.get("TRACKLINE_DAGSTER_GROUP", "listening-club"))
