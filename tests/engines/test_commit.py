"""A run is done only when it is done: the lake claims a run only once the warehouse holds it.

The failure is DuckDB's own: another writer changes a table the run wrote to between the run's
last write and its COMMIT, and DuckDB refuses the COMMIT (a write-write conflict).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest

from tests.warehouse_rows import warehouse_rows
from trackline.config import Settings
from trackline.engines.local import LocalEngine
from trackline.engines.sinks.warehouse import RunWarehouse
from trackline.lake import Lake


class ConcurrentWriter(RunWarehouse):
    """A warehouse another writer changes just before the run commits."""

    def commit(self) -> None:
        other = self.con.cursor()
        try:
            other.execute("COMMENT ON TABLE meta.runs IS 'changed by another writer'")
        finally:
            other.close()
        super().commit()


class CommitFails(LocalEngine):
    warehouse_type = ConcurrentWriter


def lake_files(settings: Settings) -> dict[str, list[str]]:
    """Every file in the lake, by its top folder."""
    root = Path(settings.lake)
    found: dict[str, list[str]] = {}
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        found.setdefault(f.relative_to(root).parts[0], []).append(str(f.relative_to(root)))
    return found


def write_inputs(path: Path, team: str = "reds") -> Path:
    lines = [
        json.dumps({"id": f"p{i}", "team": team, "at": f"2026-01-0{1 + i % 3}T10:00:00Z"})
        for i in range(12)
    ]
    lines += ['{"id": "p0", "team": "reds", "at": "2026-01-01T10:00:00Z"}', "{bad"]
    path.write_text("\n".join(lines) + "\n")
    return path


def settings_for(tmp_path: Path, partition: str) -> Settings:
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / "teams.yaml").write_text(
        f"name: teams\nversion: 1\nprimary_key: [id]\npartition_by: [{partition}]\n"
        "fields:\n  id: {type: string, required: true}\n  team: {type: string}\n"
        "  at: {type: timestamp}\n"
    )
    return Settings.load(home=tmp_path / "home", contracts_dir=contracts)


@pytest.mark.parametrize(
    ("partition", "team"),
    [
        ("day(at)", "reds"),  # curated files written beside the load
        ("team", "red sox"),  # a value the sink will not name: the table route exports them
    ],
)
def test_a_failed_commit_leaves_nothing_claiming_the_run_and_the_rerun_adds_it_once(
    tmp_path: Path, partition: str, team: str
) -> None:
    settings = settings_for(tmp_path, partition)
    nd = write_inputs(tmp_path / "t.ndjson", team)

    with pytest.raises(duckdb.TransactionException, match="commit"):
        CommitFails(settings).ingest([str(nd)], "teams")

    # the warehouse holds no row of the run and says it failed, at its commit
    [(status, error)] = warehouse_rows(settings, "SELECT status, error FROM meta.runs")
    assert status == "failed" and "commit" in error
    assert warehouse_rows(settings, "SELECT count(*) FROM meta.rejected") == [(0,)]
    assert warehouse_rows(
        settings, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'teams'"
    ) == [(0,)]
    # the lake claims nothing: no manifest, report, rejected or curated file (the raw copy of
    # the inputs, as received, stays for the rerun to rewrite)
    assert set(lake_files(settings)) == {"raw"}

    result = LocalEngine(settings).ingest([str(nd)], "teams")
    m = result.manifest
    assert not result.skipped and m.status == "done"
    assert (m.counts.valid, m.counts.rejected, m.counts.duplicates) == (12, 1, 1)
    assert warehouse_rows(settings, "SELECT status FROM meta.runs") == [("done",)]
    assert warehouse_rows(settings, "SELECT count(*), count(DISTINCT id) FROM teams") == [(12, 12)]
    assert warehouse_rows(settings, "SELECT count(*) FROM meta.rejected") == [(1,)]
    curated = ds.dataset(Path(settings.lake) / "curated" / "teams", partitioning="hive")
    assert sorted(curated.to_table().column("id").to_pylist()) == sorted(f"p{i}" for i in range(12))
    # lake and warehouse say the same about the run
    lake = Lake(settings.lake)
    doc = lake.read_json(lake.path("manifests", f"{m.run_id}.json"))
    [(recorded,)] = warehouse_rows(settings, "SELECT manifest FROM meta.runs")
    assert doc == json.loads(recorded) and doc["status"] == "done"
    assert len(lake_files(settings)["manifests"]) == 1


def test_a_done_run_whose_manifest_never_reached_the_lake_gets_it_when_asked_again(
    tmp_path: Path,
) -> None:
    # the process died between the commit and the manifest: the warehouse's record is the
    # truth, and asking for the same run writes it to the lake
    settings = settings_for(tmp_path, "day(at)")
    nd = write_inputs(tmp_path / "t.ndjson")
    first = LocalEngine(settings).ingest([str(nd)], "teams")
    lake = Lake(settings.lake)
    path = lake.path("manifests", f"{first.manifest.run_id}.json")
    lake.remove(path)

    again = LocalEngine(settings).ingest([str(nd)], "teams")
    assert again.skipped
    [(recorded,)] = warehouse_rows(settings, "SELECT manifest FROM meta.runs")
    assert lake.read_json(path) == json.loads(recorded)
