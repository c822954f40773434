"""What a run left behind, read back the same way for both engines, to compare them."""

from __future__ import annotations

import json
import posixpath
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds

from trackline.config import Settings
from trackline.core import duck
from trackline.engines.beam.engine import BeamEngine
from trackline.engines.beam.options import RunnerOptions
from trackline.engines.local import LocalEngine, RunResult
from trackline.lake import Lake


def settings(root: Path, engine: str, lake: str | None = None) -> Settings:
    """The engine's own home; its lake there, or at `lake` (a URI such as gs://...)."""
    if lake is None:
        return Settings.load(home=root / f"home-{engine}")
    return Settings.load(home=root / f"home-{engine}", lake_uri=lake)


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
    lake: str | None = None,
) -> RunResult:
    s = settings(root, engine, lake)
    if engine == "local":
        return LocalEngine(s).ingest(paths, dataset, now=now, force=force)
    extra = (f"--direct_running_mode={mode}",) if mode else ()
    runner = RunnerOptions(num_workers=workers, extra=extra)
    beam = BeamEngine(s, runner=runner, split_bytes=split_bytes)
    result: RunResult = beam.ingest(paths, dataset, now=now, force=force)
    return result


def _sorted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def outcome(s: Settings, result: RunResult) -> dict[str, Any]:
    """Everything a run should agree on: counts, warehouse rows, curated rows and folders,
    rejected rows (lake and `meta.rejected`), the manifest's counts; every output it lists
    exists (a writer that leaves its files in a temporary folder fails here). The lake may be
    on any filesystem (a local folder, gs://); paths are compared relative to its root."""
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
    lake = Lake(s.lake)
    fs, root = lake.fs, lake.root.rstrip("/")
    fs.invalidate_cache()  # an object store's listing cache predates the run's writes
    manifest = json.loads(fs.cat_file(lake.path("manifests", f"{m.run_id}.json")))
    listed: list[str] = []
    for kind, outputs in manifest["outputs"].items():
        for out in outputs:
            path = _path(out["path"])
            assert fs.exists(path), f"{kind} output listed but missing: {out['path']}"
            listed.append(path.removeprefix(f"{root}/"))
    curated_files = [f"{root}/{p}" for p in listed if p.startswith("curated/")]
    curated = (
        ds.dataset(curated_files, filesystem=fs, format="parquet", partitioning="hive")
        .to_table()
        .to_pylist()
        if curated_files
        else []
    )
    folders = sorted({posixpath.dirname(p) for p in listed if p.startswith("curated/")})
    rejected_files = [f"{root}/{p}" for p in listed if p.startswith("rejected/")]
    rejected = [
        r for f in rejected_files for r in ds.dataset(f, filesystem=fs).to_table().to_pylist()
    ]
    assert not [p for p in fs.find(root) if ".temp" in p], "temporary files left in the lake"
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


def _path(uri: str) -> str:
    """A URI as a path of its filesystem (a local path as it is)."""
    return uri.split("://", 1)[1] if "://" in uri else uri
