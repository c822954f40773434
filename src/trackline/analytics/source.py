"""Where the DuckDB-computed analytics (group reports, recommendations, daily aggregates) read
the listening activity: the DuckDB warehouse file, read-only, or on BigQuery an in-memory copy
of what they need (`warehouse/bigquery_copy.py`). The same SQL then runs on either.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING

from trackline.config import Settings

if TYPE_CHECKING:
    import duckdb


@contextmanager
def activity_connection(
    settings: Settings,
    *,
    users: Sequence[str] | None = None,
    day: date | None = None,
    groups_of: Sequence[str] | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection holding the configured warehouse's listening tables. On BigQuery
    only what is asked for is copied: `users`' rows (default everyone's), `day`'s (default
    every day's) and, for `groups_of`, their `meta.groups` rows; the SQL run on the connection
    must still filter itself, since the DuckDB warehouse holds everything."""
    if settings.warehouse_kind == "bigquery":
        from trackline.warehouse.bigquery_copy import local_copy

        con = local_copy(settings, users=users, day=day, groups_of=groups_of)
        try:
            yield con
        finally:
            con.close()
        return
    from trackline.warehouse.duckdb import DuckDBWarehouse

    wh = DuckDBWarehouse(settings.warehouse, settings, read_only=True)
    try:
        yield wh.con
    finally:
        wh.close()
