"""Report: the quality profile and the slice (bias) report of the rows a run added.

Written to the lake (`reports/<run>/`: JSON, Markdown, HTML) and to `meta.reports`, in the
run's transaction.
"""

from __future__ import annotations

import json

import duckdb

from trackline.config import Settings
from trackline.contracts.spec import Contract
from trackline.core.dialect import ident
from trackline.lake import Lake, StoredFile
from trackline.quality.profile import profile
from trackline.quality.render import render_html, render_markdown
from trackline.quality.slices import slice_report
from trackline.runs.manifest import Manifest


def write_reports(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    settings: Settings,
    contract: Contract,
    manifest: Manifest,
    folder: str,
) -> list[StoredFile]:
    """Profile and slice the rows the run added to the contract's table (its counts in
    `manifest`), into `folder` and `meta.reports`; the files written."""
    run_id, dataset, counts = manifest.run_id, manifest.dataset, manifest.counts
    run_rows = f"(SELECT * FROM main.{ident(contract.name)} WHERE run_id = $run_id)"
    params = {"run_id": run_id}
    quality = profile(
        con,
        run_rows,
        contract,
        rejected_by_reason=counts.rejected_by_reason,
        rejected_rows=counts.rejected,
        duplicates=counts.duplicates,
        params=params,
    )
    slices = slice_report(
        con,
        run_rows,
        contract,
        min_n=settings.slice_min_n,
        min_share=settings.slice_min_share,
        params=params,
    )
    run_doc = {
        "run_id": run_id,
        "dataset": dataset,
        "started_at": manifest.started_at.isoformat(),
        "counts": {**counts.model_dump()},
    }
    files = [
        lake.write_json(f"{folder}/quality.json", quality),
        lake.write_json(f"{folder}/slices.json", slices),
        lake.write_text(f"{folder}/report.md", render_markdown(run_doc, quality, slices)),
        lake.write_text(f"{folder}/report.html", render_html(run_doc, quality, slices)),
    ]
    for kind, body in (("quality", quality), ("slices", slices)):
        con.execute(
            "INSERT INTO meta.reports VALUES ($run_id, $dataset, $kind, $body)",
            {
                "run_id": run_id,
                "dataset": dataset,
                "kind": kind,
                "body": json.dumps(body, default=str),
            },
        )
    return files
