"""Group membership on BigQuery: the warehouse's copy of the groups, `meta_groups`.

The state store owns groups and sessions; the warehouse keeps a copy, `meta.groups`, for the
dbt mart `group_overlap` and for anyone who queries the warehouse (`analytics/members.py`). On
BigQuery it is the table `meta_groups` of the warehouse dataset, written like the other
metadata tables: one Parquet load job into a staging table and one MERGE that adds the members
a group lacks and deletes those it no longer has, so a reader never sees a group half-written.

A group report computes in DuckDB (`analytics/group_listening.py`) over a copy of the
members' rows (`warehouse/bigquery_copy.py`), their `meta_groups` rows included.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from trackline.config import Settings
from trackline.warehouse.bigquery import meta_table
from trackline.warehouse.bigquery_client import BigQuery
from trackline.warehouse.bigquery_stage import merge_file

GROUPS = meta_table("groups")
SCHEMA = [
    ("group_id", "STRING", "REQUIRED"),
    ("user_id", "STRING", "REQUIRED"),
    ("added_at", "TIMESTAMP", "NULLABLE"),
]


def ensure_groups_table(bq: BigQuery) -> None:
    """`meta_groups`, empty if it was not there (the dbt project's source)."""
    bq.create_table(GROUPS, SCHEMA)


def replace_groups(settings: Settings, groups: Mapping[str, Sequence[str]]) -> int:
    """Each named group's members in `meta_groups` become exactly `groups[name]` (other
    groups are left alone); the rows added or deleted."""
    import pyarrow.parquet as pq

    names = sorted(groups)
    if not names:
        return 0
    pairs = [(g, u) for g in names for u in sorted(set(groups[g]))]
    rows = pa.table(
        {
            "group_id": pa.array([g for g, _ in pairs], pa.string()),
            "user_id": pa.array([u for _, u in pairs], pa.string()),
            "added_at": pa.array([datetime.now(UTC)] * len(pairs), pa.timestamp("us", "UTC")),
        }
    )
    bq = BigQuery(settings)
    try:
        bq.ensure_dataset()
        ensure_groups_table(bq)
        where, params = "t.group_id IN UNNEST(@groups)", {"groups": names}
        if not pairs:  # every group named is now empty
            return bq.execute(
                f"DELETE FROM `{bq.target.table(GROUPS)}` t WHERE {where}",
                params,
                step=f"replace rows of {GROUPS}",
            )
        with tempfile.TemporaryDirectory(prefix="trackline-groups-") as work:
            path = Path(work) / "groups.parquet"
            pq.write_table(rows, path)
            return merge_file(
                bq,
                path,
                GROUPS,
                SCHEMA,
                ["group_id", "user_id"],
                delete_where=where,
                params=params,
            )
    finally:
        bq.close()


def read_members(settings: Settings, group: str) -> list[str]:
    """The group's user ids in `meta_groups`, sorted (none when the table is not there)."""
    bq = BigQuery(settings)
    try:
        if bq.table_columns(GROUPS) is None:
            return []
        found = bq.query(
            f"SELECT DISTINCT user_id FROM `{bq.target.table(GROUPS)}` "
            "WHERE group_id = @group ORDER BY user_id",
            {"group": group},
        )
    finally:
        bq.close()
    return [str(u) for u in found.column("user_id").to_pylist()]
