"""Settings whose warehouse is a fresh dataset on the BigQuery emulator (scripts/services/
bigquery.sh): a new name per call, so tests run in parallel without seeing each other's tables."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from tests.services import require
from trackline.config import Settings

PROJECT = "trackline-test"


def bigquery_settings(
    home: Path, prefix: str = "t", *, storage: bool = False, **more: Any
) -> Settings:
    """A home on a new dataset `<prefix>_<hex>`; with `storage`, the Storage API's gRPC
    endpoint too (the Beam stream's appends). Skips, or fails under CI, without the emulator."""
    endpoints = {"bigquery_endpoint": require("bigquery")}
    if storage:
        endpoints["bigquery_storage_endpoint"] = require("bigquery_storage")
    settings: Settings = Settings.load(
        home=home,
        warehouse_uri=f"bigquery://{PROJECT}/{prefix}_{uuid.uuid4().hex[:12]}",
        http_timeout_seconds=20,
        **endpoints,
        **more,
    )
    return settings
