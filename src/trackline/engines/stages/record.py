"""Record: a run's manifest in the lake and its record in `meta.runs`, done or failed.

A run's files go to fixed places under the lake (`RunLayout`), named by dataset, day and run
id, so a run that dies before its commit is simply rewritten under the same names by the rerun.
The manifest is the lake's word that a run is done: it is written only after the warehouse
commit (`publish`), and a run that fails, its commit included, takes its reports, rejected
and curated files back out of the lake (`withdraw`).
"""

from __future__ import annotations

import json
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
    # the manifest exactly as `meta.runs` holds it, for the lake once the run is committed
    record: str = field(default="", repr=False)

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
            "warehouse": (
                settings.warehouse_uri or ""
                if settings.warehouse_kind == "bigquery"
                else str(settings.warehouse.absolute())
            ),
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
    """Record a run that did its work (in the caller's transaction) and say what it did; its
    manifest reaches the lake with `publish`, once the transaction is committed."""
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
    recorded = record_run(con, lake.uri, manifest)
    counts = manifest.counts
    message = f"{counts.valid} new rows, {counts.rejected} rejected, {counts.duplicates} duplicates"
    if counts.valid == 0 and counts.duplicates_in_warehouse:
        message += " (everything valid was already in the warehouse: nothing added)"
    return RunResult(
        manifest,
        message=message,
        paths=layout.paths(lake, settings, manifest.dataset),
        record=recorded,
    )


def publish(lake: Lake, result: RunResult) -> None:
    """Write a committed run's manifest to the lake: the same document `meta.runs` holds."""
    layout = RunLayout.of(lake, result.manifest)
    try:
        lake.write_json(layout.manifest, json.loads(result.record))
    except OSError as exc:  # committed all the same: asking for the run again writes it
        raise TracklineError(
            f"run {result.manifest.run_id} is committed but its manifest could not be written "
            f"to the lake ({exc}); run the same ingest again to write it"
        ) from None


def republish(lake: Lake, manifest: Manifest) -> None:
    """Write a done run's manifest again if the lake lacks it (the process died between the
    commit and `publish`)."""
    path = RunLayout.of(lake, manifest).manifest
    if not lake.exists(path):
        lake.write_json(path, manifest.model_dump(mode="json"))


def withdraw(lake: Lake, manifest: Manifest) -> None:
    """Take a failed run's files back out of the lake: its manifest, reports, rejected rows
    and curated files (every name holds the run id). The raw copies stay: they are the
    inputs as received, claim nothing, and are rewritten by the rerun."""
    layout = RunLayout.of(lake, manifest)
    for path in (layout.manifest, layout.reports, layout.rejected):
        lake.remove(path)
    for path in lake.fs.glob(f"{layout.curated}/**/part-{manifest.run_id}-*.parquet"):
        lake.remove(path)


def record_run(con: duckdb.DuckDBPyConnection, lake_uri: str, m: Manifest) -> str:
    """The run's row in `meta.runs` (replacing an earlier one of the same id); the manifest
    as recorded."""
    recorded = m.model_dump_json()
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
            "manifest": recorded,
        },
    )
    return recorded


def failed(con: duckdb.DuckDBPyConnection, lake_uri: str, m: Manifest, exc: BaseException) -> None:
    """Record a run that failed (after its transaction rolled back): why, in `meta.runs`."""
    m.status = "failed"
    m.finished_at = datetime.now(UTC)
    m.error = str(exc) if isinstance(exc, TracklineError) else f"{type(exc).__name__}: {exc}"
    try:
        record_run(con, lake_uri, m)
    except Exception:  # the original error matters more than the bookkeeping
        log.exception("run.record_failure_failed run_id=%s", m.run_id)
