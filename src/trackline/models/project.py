"""Where the shipped dbt project lives, and the profiles a run uses.

The project is package data (read-only when installed); everything dbt writes (compiled SQL,
partial-parse state, logs, the generated profiles) goes under `<home>/dbt/` instead.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from trackline.config import Settings

PROFILE = "trackline"
TARGETS = ("local", "bigquery")


def project_dir() -> Path:
    """The dbt project folder inside the installed package."""
    return Path(str(resources.files("trackline.models") / "dbt"))


def work_dir(settings: Settings) -> Path:
    return settings.home.absolute() / "dbt"


def shipped_profiles() -> dict[str, Any]:
    text = (project_dir() / "profiles.yml").read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def write_profiles(settings: Settings) -> Path:
    """Write profiles.yml under the home: the shipped targets, with `local` pointing at the
    configured warehouse and bounded like every other DuckDB connection trackline opens.

    No `temp_directory`: dbt-duckdb re-applies settings on every connection and DuckDB refuses
    to switch it once used; the default (`<warehouse>.tmp` beside the file) is fine."""
    profiles = shipped_profiles()
    local = profiles[PROFILE]["outputs"]["local"]
    local["path"] = str(settings.warehouse.absolute())
    local["settings"] = {
        "memory_limit": settings.duckdb_memory_limit,
        "preserve_insertion_order": False,
    }
    if settings.duckdb_threads:
        local["settings"]["threads"] = settings.duckdb_threads
    if settings.warehouse_kind == "bigquery":  # the bigquery target: the configured dataset
        from trackline.warehouse.bigquery_target import Target

        where = Target.parse(settings.warehouse_uri or "")
        bq = profiles[PROFILE]["outputs"]["bigquery"]
        bq.update(project=where.project, dataset=where.dataset)
        if settings.bigquery_location:
            bq["location"] = settings.bigquery_location
        if settings.bigquery_endpoint:  # an emulator: no Google credentials (no secret here)
            bq.update(
                method="oauth-secrets",
                token="emulator",
                api_endpoint=settings.bigquery_endpoint,
                job_retries=0,
            )
    folder = work_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "profiles.yml"
    path.write_text(yaml.safe_dump(profiles, sort_keys=False), encoding="utf-8")
    return folder
