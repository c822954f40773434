"""What a run left behind, read back the same way for both engines, to compare them."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds

from trackline.config import Settings
from trackline.core import duck
from trackline.engines.beam.engine import BeamEngine
from trackline.engines.beam.options import RunnerOptions
from trackline.engines.local import LocalEngine, RunResult


def settings(root: Path, engine: str) -> Settings:
    return Settings.load(home=root / f"home-{engine}")


def ingest(
    root: Path,
    engine: str,
    paths: list[str],
    dataset: str,
    now: datetime,
    *,
    force: bool = False,
    workers: int = 1,
    split_bytes: int = 32 << 20,
    mode: str | None = None,
) -> RunResult:
    s = settings(root, engine)
    if engine == "local":
        return LocalEngine(s).ingest(paths, dataset, now=now, force=force)
    extra = (f"--direct_running_mode={mode}",) if mode else ()
    runner = RunnerOptions(num_workers=workers, extra=extra)
    engine = BeamEngine(s, runner=runner, split_bytes=split_bytes)
    return engine.ingest(paths, dataset, now=now, force=force)


def _sorted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def outcome(s: Settings, result: RunResult) -> dict[str, Any]:
    """Everything a run should agree on: counts, warehouse rows, curated rows and folders,
    rejected rows (lake and `meta.rejected`), the manifest's counts; every output it lists
    exists (a writer that leaves its files in a temporary folder fails here)."""
    m = result.manifest
    table = m.dataset
    con = duck.connect(s.warehouse, read_only=True)
    try:
        rows = duck.fetch_table(
            con,
            f'SELECT * EXCLUDE (ingestion_time) FROM main."{table}" WHERE run_id = $r',
            {"r": m.run_id},
        ).to_pylist()
        meta = con.execute(
            "SELECT source_file, source_line, reasons, detail, record FROM meta.rejected "
            "WHERE run_id = $r ORDER BY source_file, source_line",
            {"r": m.run_id},
        ).fetchall()
    finally:
        con.close()
    lake = Path(s.lake)
    manifest = json.loads((lake / "manifests" / f"{m.run_id}.json").read_text())
    listed: list[str] = []
    for kind, outputs in manifest["outputs"].items():
        for out in outputs:
            assert Path(out["path"]).exists(), f"{kind} output listed but missing: {out['path']}"
            listed.append(str(Path(out["path"]).relative_to(lake)))
    curated_files = [p for p in listed if p.startswith("curated/")]
    curated = (
        ds.dataset([str(lake / p) for p in curated_files], format="parquet", partitioning="hive")
        .to_table()
        .to_pylist()
        if curated_files
        else []
    )
    folders = sorted({str(Path(p).parent) for p in curated_files})
    rejected_files = [lake / p for p in listed if p.startswith("rejected/")]
    rejected = [r for f in rejected_files for r in ds.dataset(str(f)).to_table().to_pylist()]
    assert not list(lake.rglob("*.temp*")), "temporary files left in the lake"
    return {
        "counts": manifest["counts"],
        "summary": result.summary()["counts"],
        "rows": _sorted(rows),
        "curated": _sorted(curated),
        "curated_folders": folders,
        "rejected_lake": _sorted(rejected),
        "rejected_meta": meta,
        "listed_kinds": sorted({p.split("/", 1)[0] for p in listed}),
    }
