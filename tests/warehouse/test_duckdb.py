"""The DuckDB warehouse's tables: how contract columns are stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from trackline.config import Settings
from trackline.contracts.loader import ContractRegistry
from trackline.warehouse.duckdb import DuckDBWarehouse


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    settings = Settings.load(home=tmp_path / "home")
    wh = DuckDBWarehouse(tmp_path / "wh.duckdb", settings)
    yield wh
    wh.close()


def stored(wh: DuckDBWarehouse, insert: str, table: str) -> dict[str, set[str]]:
    """Run `insert`, checkpoint, and say how each text column of `table` was compressed."""
    wh.con.execute(insert)
    wh.con.execute("CHECKPOINT")
    rows = wh.con.execute(
        "SELECT column_name, compression FROM pragma_storage_info(?) "
        "WHERE segment_type = 'VARCHAR'",
        [table],
    ).fetchall()
    out: dict[str, set[str]] = {}
    for name, compression in rows:
        out.setdefault(name, set()).add(compression)
    return out


def test_a_single_string_primary_key_is_stored_uncompressed(warehouse: DuckDBWarehouse) -> None:
    contract = ContractRegistry(None).get("listening_events")
    warehouse.ensure_table(contract, {"track_time_seconds": "DOUBLE", "progress_ratio": "DOUBLE"})
    # repetitive values DuckDB would otherwise compress with a dictionary
    got = stored(
        warehouse,
        "INSERT INTO listening_events (event_id, user_id) "
        "SELECT 'event-' || (i % 7), 'user-' || (i % 7) FROM range(200000) t(i)",
        "listening_events",
    )
    assert got["event_id"] == {"Uncompressed"}
    assert got["user_id"] != {"Uncompressed"}


def test_a_composite_key_keeps_duckdb_compression(warehouse: DuckDBWarehouse) -> None:
    contract = ContractRegistry(None).get("playlist_tracks")
    derived = {name: "DOUBLE" for name in contract.derived}
    warehouse.ensure_table(contract, derived)
    got = stored(
        warehouse,
        "INSERT INTO playlist_tracks (user_id, playlist_id, track_id) "
        "SELECT 'user-' || (i % 7), 'playlist-' || (i % 5), 'track-' || (i % 3) "
        "FROM range(200000) t(i)",
        "playlist_tracks",
    )
    assert all(got[c] != {"Uncompressed"} for c in contract.primary_key)


def test_rejected_records_are_stored_with_zstd(warehouse: DuckDBWarehouse) -> None:
    got = stored(
        warehouse,
        "INSERT INTO meta.rejected (run_id, dataset, record) "
        "SELECT 'run', 'listening_events', '{\"event_id\": \"e-' || i || '\", \"n\": ' || i || '}' "
        "FROM range(200000) t(i)",
        "meta.rejected",
    )
    assert got["record"] == {"ZSTD"}
    assert got["dataset"] != {"ZSTD"}  # only the record text
