"""Connection defaults every DuckDB database in trackline shares."""

from __future__ import annotations

from pathlib import Path

from trackline import duck


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
