"""A warehouse opened read-only (for `trackline query` and everything reading on a user's
behalf) reads its own tables and nothing else, whatever SQL reaches its connection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from trackline.config import Settings
from trackline.errors import QueryError, TracklineError, UsageError
from trackline.warehouse.base import open_warehouse
from trackline.warehouse.duckdb import DuckDBWarehouse


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings.load(home=tmp_path / "home")
    wh = DuckDBWarehouse(settings.warehouse, settings)
    wh.con.execute("CREATE TABLE main.plays AS SELECT 'u' || i AS user_id FROM range(3) t(i)")
    wh.close()
    (tmp_path / "secret.txt").write_text("do not read me")
    return settings


@pytest.fixture
def reader(settings: Settings) -> Iterator[DuckDBWarehouse]:
    wh = DuckDBWarehouse(settings.warehouse, settings, read_only=True)
    yield wh
    wh.close()


def test_its_own_tables_and_meta_are_readable(reader: DuckDBWarehouse) -> None:
    assert reader.read_only_query("SELECT count(*) AS n FROM plays").to_pylist() == [{"n": 3}]
    assert reader.read_only_query("SELECT count(*) AS n FROM meta.runs").to_pylist() == [{"n": 0}]
    assert reader.query("SELECT user_id FROM plays WHERE user_id = $u", {"u": "u1"}).num_rows == 1


def test_the_connection_itself_reaches_no_file_url_or_extension(
    reader: DuckDBWarehouse, tmp_path: Path
) -> None:
    """Not only `read_only_query`: code that runs SQL on the connection directly is held too."""
    secret = tmp_path / "secret.txt"
    for sql in (
        f"SELECT * FROM read_text('{secret}')",
        f"SELECT * FROM read_blob('{secret}')",
        f"SELECT * FROM glob('{tmp_path}/*')",
        f"COPY (SELECT 1) TO '{tmp_path}/out.csv'",
        "SELECT * FROM read_parquet('https://example.com/x.parquet')",
        "LOAD httpfs",
    ):
        with pytest.raises(duckdb.PermissionException):
            reader.con.execute(sql)
    for sql in (
        "SET enable_external_access = true",
        "RESET enable_external_access",
        "SET lock_configuration = false",
        "SET autoinstall_known_extensions = true",
    ):
        with pytest.raises(duckdb.InvalidInputException, match="locked"):
            reader.con.execute(sql)
    assert not (tmp_path / "out.csv").exists()


def test_every_read_only_opening_is_locked(settings: Settings, tmp_path: Path) -> None:
    wh = open_warehouse(settings, read_only=True)  # the sessions command's way in
    try:
        with pytest.raises(QueryError, match="disabled by configuration"):
            wh.query(f"SELECT * FROM read_text('{tmp_path / 'secret.txt'}')")
    finally:
        wh.close()


def test_attacks_are_refused_as_usage_errors(reader: DuckDBWarehouse, tmp_path: Path) -> None:
    for sql in (
        f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{tmp_path}/x.csv'",
        f"PRAGMA import_database('{tmp_path}')",
        "SELECT * FROM read_text('/etc/passwd')",
        "ATTACH ':memory:' AS scratch",
        "INSTALL httpfs",
        "CALL enable_logging(storage = 'file')",
    ):
        with pytest.raises(QueryError) as caught:
            reader.read_only_query(sql)
        assert caught.value.exit_code == 2
        assert "\n" not in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "secret.txt"]


def test_a_failure_while_running_is_not_a_usage_error(reader: DuckDBWarehouse) -> None:
    for sql in ("SELECT CAST('' AS INTEGER)", "SELECT error('boom')"):
        with pytest.raises(TracklineError) as caught:
            reader.read_only_query(sql)
        assert not isinstance(caught.value, UsageError)
        assert caught.value.exit_code == 1 and str(caught.value).startswith("query failed")
    with pytest.raises(QueryError):
        reader.read_only_query("SELECT nope FROM plays")


def test_user_sql_needs_a_read_only_opening(settings: Settings) -> None:
    writer = DuckDBWarehouse(settings.warehouse, settings)
    try:
        with pytest.raises(UsageError, match="read_only"):
            writer.read_only_query("SELECT 1")
        # the writer's own connection keeps DuckDB's defaults (the engine needs them)
        assert writer.con.execute("SELECT current_setting('lock_configuration')").fetchall() == [
            (False,)
        ]
    finally:
        writer.close()
