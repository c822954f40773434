"""What has been run: run records, manifests and reports, read from the warehouse."""

from __future__ import annotations

import json
from typing import Any

from trackline.config import Settings
from trackline.errors import UnknownRunError
from trackline.runs.manifest import Manifest
from trackline.warehouse.base import Warehouse, open_warehouse


def _open(settings: Settings) -> Warehouse | None:
    """The warehouse, read-only; None when nothing has been run there yet."""
    if settings.warehouse_kind == "duckdb" and not settings.warehouse.exists():
        return None
    wh = open_warehouse(settings, read_only=True)
    if wh.name == "bigquery":
        from trackline.warehouse.bigquery import BigQueryWarehouse

        if isinstance(wh, BigQueryWarehouse) and not wh.has_runs():
            wh.close()
            return None
    return wh


def list_runs(
    settings: Settings, *, dataset: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    wh = _open(settings)
    if wh is None:
        return []
    try:
        sql = (
            "SELECT run_id, dataset, status, started_at, finished_at, input_rows, valid_rows, "
            "rejected_rows, duplicate_rows, error FROM meta.runs "
            + ("WHERE dataset = $dataset " if dataset else "")
            + "ORDER BY started_at DESC LIMIT $limit"
        )
        params: dict[str, Any] = {"limit": limit}
        if dataset:
            params["dataset"] = dataset
        rows: list[dict[str, Any]] = wh.query(sql, params).to_pylist()
        return rows
    finally:
        wh.close()


def resolve(settings: Settings, run_id: str) -> str:
    """Accept a full run id or a unique prefix of one."""
    wh = _open(settings)
    if wh is None:
        raise UnknownRunError(f"no run {run_id!r}: nothing has been run in {settings.home} yet")
    try:
        rows = (
            wh.query("SELECT run_id FROM meta.runs WHERE starts_with(run_id, $p)", {"p": run_id})
            .column("run_id")
            .to_pylist()
        )
    finally:
        wh.close()
    if len(rows) == 1:
        return str(rows[0])
    if not rows:
        raise UnknownRunError(f"no run {run_id!r}; see `trackline runs` for the run ids")
    raise UnknownRunError(f"{run_id!r} matches {len(rows)} runs; give more characters")


def get_manifest(settings: Settings, run_id: str) -> Manifest:
    full = resolve(settings, run_id)
    wh = _open(settings)
    assert wh is not None
    try:
        body = wh.query("SELECT manifest FROM meta.runs WHERE run_id = $r", {"r": full})
    finally:
        wh.close()
    return Manifest.model_validate_json(body.column("manifest")[0].as_py())


def get_reports(settings: Settings, run_id: str) -> dict[str, Any]:
    """The run's quality and slice reports (as stored in the warehouse)."""
    full = resolve(settings, run_id)
    wh = _open(settings)
    assert wh is not None
    try:
        rows = wh.query(
            "SELECT kind, body FROM meta.reports WHERE run_id = $r", {"r": full}
        ).to_pylist()
    finally:
        wh.close()
    return {str(r["kind"]): json.loads(r["body"]) for r in rows}
