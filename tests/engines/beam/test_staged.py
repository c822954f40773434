"""The driver loads a Beam run only when it reads back every first row the pipeline staged."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("apache_beam")

from tests.engines.beam.equivalence import ingest, settings
from trackline.engines.beam import staged
from trackline.generate.writers import write
from trackline.warehouse.duckdb import DuckDBWarehouse

NOW = datetime.now(UTC)


def test_a_staged_file_missing_from_the_listing_fails_the_run_with_nothing_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write("listens", 800, tmp_path / "l.ndjson", invalid_share=0.1, seed=3, now=NOW).path
    listed = staged.Staged.of

    def one_valid_file_lost(listing: list[dict[str, Any]], fs: Any) -> staged.Staged:
        found = listed(listing, fs)
        assert len(found.valid) > 1  # the file is read in several ranges
        found.valid = found.valid[1:]
        return found

    monkeypatch.setattr(staged.Staged, "of", one_valid_file_lost)
    with pytest.raises(staged.StagingError, match="first rows but"):
        ingest(tmp_path, "beam", [str(data)], "listens", NOW, split_bytes=20_000)
    s = settings(tmp_path, "beam")
    wh = DuckDBWarehouse(s.warehouse, s, read_only=True)
    try:
        tables = {
            str(r[0]) for r in wh.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
        loaded = (
            wh.query("SELECT count(*) AS n FROM listens").column("n")[0].as_py()
            if "listens" in tables
            else 0
        )
        runs = wh.query("SELECT status FROM meta.runs").column("status").to_pylist()
    finally:
        wh.close()
    assert loaded == 0
    assert runs == ["failed"]


def test_every_listed_file_must_be_there(tmp_path: Path) -> None:
    import fsspec

    folder = tmp_path / "_staging" / "run-1"
    folder.mkdir(parents=True)
    (folder / "valid-a.parquet").write_bytes(b"x")
    (folder / "first-a.parquet").write_bytes(b"x")
    listing = [
        {"kind": "valid", "uri": f"file://{folder}/valid-a.parquet", "rows": 3},
        {"kind": "first", "uri": f"file://{folder}/first-a.parquet", "rows": 2},
    ]
    fs = fsspec.filesystem("file")
    found = staged.Staged.of(listing, fs)
    assert found.rows == {"valid": 3, "first": 2} and len(found.valid) == 1
    gone = [*listing, {"kind": "rejected", "uri": f"file://{folder}/rejected-b.parquet", "rows": 1}]
    with pytest.raises(staged.StagingError, match=r"rejected-b\.parquet but it is not there"):
        staged.Staged.of(gone, fs)
