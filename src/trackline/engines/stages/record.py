"""Record: a run's manifest in the lake and its record in `meta.runs`, done or failed.

A run's files go to fixed places under the lake (`RunLayout`), named by dataset, day and run
id, so a run that dies before its commit is simply rewritten under the same names by the rerun.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from trackline.config import Settings
from trackline.errors import TracklineError
from trackline.lake import Lake, StoredFile
from trackline.runs.manifest import Manifest, OutputRecord

log = logging.getLogger("trackline.engine")


@dataclass
class RunResult:
    manifest: Manifest
    skipped: bool = False
    message: str = ""
    paths: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The `--json` shape of a run (a public interface: add keys, never rename)."""
        m = self.manifest
        return {
            "run_id": m.run_id,
            "dataset": m.dataset,
            "status": m.status,
            "skipped": self.skipped,
            "message": self.message,
            "counts": m.counts.model_dump(),
            "paths": self.paths,
            "timings": m.timings,
        }


@dataclass(frozen=True)
class RunLayout:
    """Where one run's files go in the lake."""

    raw: str  # the inputs as received
    rejected: str  # the rejected rows' folder
    reports: str
    manifest: str
    curated: str  # the dataset's curated files (every run's)

    @classmethod
    def of(cls, lake: Lake, manifest: Manifest) -> RunLayout:
        run_id, dataset = manifest.run_id, manifest.dataset
        day = f"date={manifest.started_at:%Y-%m-%d}"
        return cls(
            raw=lake.path("raw", dataset, day, f"run_id={run_id}"),
            rejected=lake.path("rejected", dataset, day, f"run_id={run_id}"),
            reports=lake.path("reports", run_id),
            manifest=lake.path("manifests", f"{run_id}.json"),
            curated=lake.path("curated", dataset),
        )

    @property
    def rejected_file(self) -> str:
        return f"{self.rejected}/part-00000.parquet"

    def paths(self, lake: Lake, settings: Settings, table: str) -> dict[str, str]:
        """The places a run's result names (the `paths` of its `--json`)."""
        d = lake.display
        return {
            "raw": d(self.raw),
            "curated": d(self.curated),
            "rejected": d(self.rejected),
            "reports": d(self.reports),
            "manifest": d(self.manifest),
            "warehouse": str(settings.warehouse.absolute()),
            "table": table,
        }


def skipped(lake: Lake, settings: Settings, manifest: Manifest) -> RunResult:
    """The result of asking again for a run already done: what that run did."""
    message = (
        f"run {manifest.run_id} already ingested these inputs at "
        f"{manifest.started_at:%Y-%m-%d %H:%M:%S} UTC: nothing added "
        "(use --force to validate them again; duplicates are still skipped)"
    )
    layout = RunLayout.of(lake, manifest)
    return RunResult(
        manifest,
        skipped=True,
        message=message,
        paths=layout.paths(lake, settings, manifest.dataset),
    )


def done(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    settings: Settings,
    manifest: Manifest,
    outputs: dict[str, list[StoredFile]],
    timings: dict[str, float],
) -> RunResult:
    """Record a run that did its work (in the caller's transaction), write its manifest to
    the lake and say what it did."""
    manifest.outputs = {
        kind: [
            OutputRecord(path=lake.display(s.path), rows=s.rows, bytes=s.bytes, sha256=s.sha256)
            for s in stored
        ]
        for kind, stored in outputs.items()
    }
    manifest.status = "done"
    manifest.finished_at = datetime.now(UTC)
    manifest.timings = timings
    layout = RunLayout.of(lake, manifest)
    record_run(con, lake.uri, manifest)
    lake.write_json(layout.manifest, manifest.model_dump(mode="json"))
    counts = manifest.counts
    message = f"{counts.valid} new rows, {counts.rejected} rejected, {counts.duplicates} duplicates"
    if counts.valid == 0 and counts.duplicates_in_warehouse:
        message += " (everything valid was already in the warehouse: nothing added)"
    return RunResult(
        manifest, message=message, paths=layout.paths(lake, settings, manifest.dataset)
    )


def record_run(con: duckdb.DuckDBPyConnection, lake_uri: str, m: Manifest) -> None:
    """The run's row in `meta.runs` (replacing an earlier one of the same id)."""
    con.execute(
        "INSERT OR REPLACE INTO meta.runs VALUES ($run_id, $dataset, $status, $started, "
        "$finished, $input, $valid, $rejected, $duplicates, $lake, $error, $manifest)",
        {
            "run_id": m.run_id,
            "dataset": m.dataset,
            "status": m.status,
            "started": m.started_at,
            "finished": m.finished_at,
            "input": m.counts.input,
            "valid": m.counts.valid,
            "rejected": m.counts.rejected,
            "duplicates": m.counts.duplicates,
            "lake": lake_uri,
            "error": m.error,
            "manifest": m.model_dump_json(),
        },
    )


def failed(con: duckdb.DuckDBPyConnection, lake_uri: str, m: Manifest, exc: BaseException) -> None:
    """Record a run that failed (after its transaction rolled back): why, in `meta.runs`."""
    m.status = "failed"
    m.finished_at = datetime.now(UTC)
    m.error = str(exc) if isinstance(exc, TracklineError) else f"{type(exc).__name__}: {exc}"
    try:
        record_run(con, lake_uri, m)
    except Exception:  # the original error matters more than the bookkeeping
        log.exception("run.record_failure_failed run_id=%s", m.run_id)
