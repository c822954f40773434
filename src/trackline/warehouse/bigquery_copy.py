"""What the DuckDB-computed analytics read of BigQuery, copied into an in-memory DuckDB.

Group reports, recommendations and daily aggregates are DuckDB SQL over the listening activity
(`analytics/plays.py`). On BigQuery, `local_copy` first copies what that SQL reads: one query
job per table, only the columns it needs (`plays.COLUMNS`), filtered in BigQuery to the users
or the day asked for, so the DuckDB code runs unchanged on BigQuery's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import duckdb

from trackline.analytics.plays import COLUMNS, EVENT_TIME
from trackline.config import Settings
from trackline.core.dialect import ident
from trackline.warehouse.bigquery_client import BigQuery
from trackline.warehouse.bigquery_groups import GROUPS

GROUP_COLUMNS = ("group_id", "user_id")  # what `analytics.members.require_known` reads


def _select(
    bq: BigQuery, name: str, columns: Sequence[str], where: dict[str, tuple[str, Any]]
) -> tuple[str, dict[str, Any]] | None:
    """The query copying `name`'s `columns` (those it has) under the `where` filters
    (parameter -> (condition, value)); None when BigQuery has no such table."""
    have = bq.table_columns(name)
    if have is None:
        return None
    kept = ", ".join(f"`{c}`" for c in columns if c in have)
    sql = f"SELECT {kept} FROM `{bq.target.table(name)}`"
    if where:
        sql += " WHERE " + " AND ".join(cond for cond, _ in where.values())
    return sql, {k: v for k, (_, v) in where.items()}


def local_copy(
    settings: Settings,
    *,
    users: Sequence[str] | None = None,
    day: date | None = None,
    groups_of: Sequence[str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding BigQuery's listening tables as `main.<table>` (every user's
    rows, or only `users`'; every day's, or only `day`'s, UTC) and, with `groups_of`, those
    users' rows of `meta_groups` as `meta.groups`."""
    jobs: list[tuple[str, str, Sequence[str], dict[str, tuple[str, Any]]]] = []
    for name, columns in COLUMNS.items():
        where: dict[str, tuple[str, Any]] = {}
        if users is not None:
            where["users"] = ("user_id IN UNNEST(@users)", sorted(set(users)))
        if day is not None:
            where["day"] = (f"DATE(`{EVENT_TIME[name]}`) = @day", day)
        jobs.append((name, f"main.{ident(name)}", columns, where))
    if groups_of is not None:
        member = ("user_id IN UNNEST(@users)", sorted(set(groups_of)))
        jobs.append((GROUPS, "meta.groups", GROUP_COLUMNS, {"users": member}))
    con = duckdb.connect()
    bq = BigQuery(settings)
    try:
        con.execute("CREATE SCHEMA meta")
        for name, local, wanted, where in jobs:
            query = _select(bq, name, wanted, where)
            if query is None:
                continue  # a missing table contributes nothing, as in the DuckDB warehouse
            found = bq.query(*query)
            con.register("copied", found)
            try:
                con.execute(f"CREATE TABLE {local} AS SELECT * FROM copied")
            finally:
                con.unregister("copied")
    except BaseException:
        con.close()
        raise
    finally:
        bq.close()
    return con
