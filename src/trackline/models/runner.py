"""Run the dbt project in-process through dbt's Python API (`dbtRunner`), offline.

`build` runs each model and then its data tests in DAG order, so a failing test stops what
depends on it. No telemetry (anonymous usage stats off, no version check); dbt's console
output is silenced and its log goes to `<home>/dbt/logs`. Failures come back as typed errors.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from trackline.config import Settings
from trackline.contracts.loader import ContractRegistry
from trackline.errors import ModelError, UsageError
from trackline.extras import require_extra
from trackline.models.project import TARGETS, project_dir, work_dir, write_profiles
from trackline.models.sources import ensure_sources
from trackline.warehouse.duckdb import DuckDBWarehouse

log = logging.getLogger(__name__)

FAILED = frozenset({"error", "fail", "runtime error"})
QUIET_ENV = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "DBT_VERSION_CHECK": "false",
    "DBT_PARTIAL_PARSE": "true",
}


@dataclass(frozen=True)
class NodeResult:
    name: str
    kind: str  # "model" or "test"
    status: str  # success, error, pass, fail, warn, skipped
    seconds: float
    message: str = ""
    failures: int | None = None

    @property
    def ok(self) -> bool:
        return self.status not in FAILED  # skipped nodes are reported, not counted as failed


@dataclass
class ModelRun:
    command: str
    target: str
    seconds: float = 0.0
    created_sources: list[str] = field(default_factory=list)
    nodes: list[NodeResult] = field(default_factory=list)
    #: After `parse`: each model's resolved config (materialized, schema, partition, cluster).
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(n.ok for n in self.nodes)

    @property
    def failed(self) -> list[NodeResult]:
        return [n for n in self.nodes if not n.ok]

    def summary(self) -> dict[str, Any]:
        def count(kind: str, ok: bool) -> int:
            return sum(1 for n in self.nodes if n.kind == kind and n.ok == ok)

        return {
            "ok": self.ok,
            "command": self.command,
            "target": self.target,
            "seconds": round(self.seconds, 3),
            "created_sources": self.created_sources,
            "models": {"ok": count("model", True), "failed": count("model", False)},
            "tests": {"passed": count("test", True), "failed": count("test", False)},
            "skipped": sum(1 for n in self.nodes if n.status == "skipped"),
            "failed": [
                {"name": n.name, "kind": n.kind, "status": n.status, "message": n.message}
                for n in self.failed
            ],
            "nodes": [
                {
                    "name": n.name,
                    "kind": n.kind,
                    "status": n.status,
                    "seconds": round(n.seconds, 3),
                    **({"failures": n.failures} if n.failures is not None else {}),
                }
                for n in self.nodes
            ],
        }


def _dbt_runner() -> Any:
    return require_extra("dbt.cli.main", "dbt", "`trackline model`").dbtRunner


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """dbt reads these from the process environment; restore it afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def invoke(
    settings: Settings,
    command: str,
    *,
    select: Sequence[str] = (),
    target: str = "local",
    extra_args: Sequence[str] = (),
) -> ModelRun:
    """Run one dbt command (build, run, test, parse) against `target`; never raises on a
    failing model or test (see `ModelRun.failed`), only when dbt itself cannot run."""
    if target not in TARGETS:
        raise UsageError(f"unknown dbt target {target!r}; known: {', '.join(TARGETS)}")
    runner_cls = _dbt_runner()
    run = ModelRun(command=command, target=target)
    if target == "local" and command != "parse":
        from trackline.analytics.members import sync

        sync(settings)  # named groups and sessions, for the group_overlap mart
        wh = DuckDBWarehouse(settings.warehouse, settings)
        try:
            run.created_sources = ensure_sources(wh, ContractRegistry(settings.contracts_dir))
        finally:
            wh.close()
    dbt_vars: dict[str, object] = {"min_play_ms": settings.min_play_ms}
    if target == "bigquery" and settings.warehouse_kind == "bigquery":
        from trackline.models.sources import SOURCE_DATASETS, derived_types
        from trackline.warehouse.bigquery_tables import ensure_tables

        contracts = ContractRegistry(settings.contracts_dir)
        wanted = [contracts.get(name) for name in SOURCE_DATASETS]
        if command != "parse":
            from trackline.analytics.members import sync

            run.created_sources = ensure_tables(settings, [(c, derived_types(c)) for c in wanted])
            sync(settings)  # named groups and sessions into meta_groups, for group_overlap
        dbt_vars["meta_schema"] = (settings.warehouse_uri or "").rstrip("/").rsplit("/", 1)[-1]
        dbt_vars["groups_table"] = "meta_groups"  # meta.groups, as BigQuery names it
    profiles = write_profiles(settings)
    work = work_dir(settings)
    args = [
        command,
        "--project-dir", str(project_dir()),
        "--profiles-dir", str(profiles),
        "--target", target,
        "--target-path", str(work / "target" / target),
        "--log-path", str(work / "logs"),
        "--log-level", "none",
        "--log-level-file", "info",
        "--no-send-anonymous-usage-stats",
        "--no-version-check",
        "--no-use-colors",
        # settings the models read (what counts as a play)
        "--vars", json.dumps(dbt_vars),
        *extra_args,
    ]  # fmt: skip
    for s in select:
        args += ["--select", s]
    start = time.perf_counter()
    log.info("model.start command=%s target=%s select=%s", command, target, ",".join(select))
    with _environment(QUIET_ENV):
        try:
            result = runner_cls().invoke(args)
        finally:
            _release_duckdb()
    run.seconds = time.perf_counter() - start
    if result.exception is not None:
        raise ModelError(
            f"dbt {command} could not run: {_first_line(result.exception)} "
            f"(details in {work / 'logs' / 'dbt.log'})"
        ) from None
    for node in getattr(result.result, "nodes", {}).values():
        if node.resource_type == "model":
            cfg = node.config
            run.configs[str(node.name)] = {
                "materialized": cfg.materialized,
                "schema": node.schema,
                "alias": node.alias,
                "partition_by": cfg.get("partition_by"),
                "cluster_by": cfg.get("cluster_by"),
            }
    for r in getattr(result.result, "results", None) or []:
        node = r.node
        run.nodes.append(
            NodeResult(
                name=str(node.name),
                kind="test" if node.resource_type == "test" else str(node.resource_type),
                status=str(getattr(r.status, "value", r.status)),
                seconds=float(r.execution_time or 0.0),
                message=_short(r.message or ""),
                failures=r.failures,
            )
        )
    if command != "parse" and not result.success and not run.failed:
        raise ModelError(f"dbt {command} failed (details in {work / 'logs' / 'dbt.log'})")
    log.info(
        "model.done command=%s ok=%s nodes=%d seconds=%.2f",
        command,
        run.ok,
        len(run.nodes),
        run.seconds,
    )
    return run


def _release_duckdb() -> None:
    """dbt-duckdb keeps its database open in the process after a run; close it so the
    warehouse file is free for the next trackline step (one writer at a time)."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # the duckdb adapter is not installed: nothing to release
        return
    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
    DuckDBConnectionManager.close_all_connections()  # type: ignore[no-untyped-call]


def build(settings: Settings, select: Sequence[str] = (), target: str | None = None) -> ModelRun:
    """Build the selected models and run their data tests (all when nothing is selected), on
    `target` (default: `bigquery` when the warehouse is BigQuery, else `local`)."""
    if target is None:
        target = "bigquery" if settings.warehouse_kind == "bigquery" else "local"
    return invoke(settings, "build", select=select, target=target)


def _short(value: object, limit: int = 400) -> str:
    """dbt's message on one line (its first line alone often only names the node)."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else ""
