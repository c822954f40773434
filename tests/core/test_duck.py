"""Connection defaults every DuckDB database in trackline shares."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from trackline.core import duck


def test_connections_are_utc_and_print_no_progress_bar(tmp_path: Path) -> None:
    # DuckDB's bar goes to stdout on long queries and would corrupt `--json` output
    for con in (duck.connect(), duck.connect(tmp_path / "w.duckdb", threads=1)):
        settings = dict(
            con.execute(
                "SELECT name, value FROM duckdb_settings() "
                "WHERE name IN ('enable_progress_bar', 'TimeZone')"
            ).fetchall()
        )
        assert settings == {"enable_progress_bar": "false", "TimeZone": "UTC"}
        con.close()


def _cached_table_mb(con: object) -> float:
    row = con.execute(  # type: ignore[attr-defined]
        "SELECT memory_usage_bytes / 2^20 FROM duckdb_memory() WHERE tag = 'BASE_TABLE'"
    ).fetchone()
    return float(row[0]) if row else 0.0


def test_a_memory_share_caps_the_table_cache_and_restores_the_limit(tmp_path: Path) -> None:
    con = duck.connect(tmp_path / "w.duckdb", memory_limit="256MB", threads=2)
    with duck.memory_share(con, "256MB", 0.25):
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()
        assert limit == ("64.0 MiB",)  # a quarter of 256MB (61 MiB), raised to the floor
        con.execute("CREATE TABLE t AS SELECT hash(range) AS x FROM range(12000000)")
        con.execute("CHECKPOINT")
        con.execute("SELECT sum(x) FROM t").fetchall()
        assert _cached_table_mb(con) <= 64  # ~96 MB of blocks, most of them dropped
    assert con.execute("SELECT current_setting('memory_limit')").fetchone() == ("244.1 MiB",)
    con.execute("SELECT sum(x) FROM t").fetchall()
    assert _cached_table_mb(con) > 64  # under the whole limit DuckDB keeps them all
    con.close()


def test_a_memory_share_restores_the_limit_after_an_error(tmp_path: Path) -> None:
    con = duck.connect(memory_limit="512MB")
    with pytest.raises(duckdb.CatalogException), duck.memory_share(con, "512MB", 0.5):
        con.execute("SELECT * FROM no_such_table")
    assert con.execute("SELECT current_setting('memory_limit')").fetchone() == ("488.2 MiB",)


def test_a_memory_share_never_raises_a_small_limit(tmp_path: Path) -> None:
    con = duck.connect(memory_limit="48MB")
    with duck.memory_share(con, "48MB", 0.25):  # a quarter would be 12 MB: below the floor
        assert 40_000_000 < duck.memory_limit(con)[1] <= 48_000_000  # the limit, not 64 MB
