"""Settings whose warehouse is a fresh dataset on the BigQuery emulator (scripts/services/
bigquery.sh): a new name per call, so tests run in parallel without seeing each other's tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


class BigQueryCLI:
    """`trackline` in a subprocess, with a home of its own and a fresh BigQuery dataset on the
    emulator (nothing of the caller's TRACKLINE_* settings leaks in)."""

    def __init__(self, tmp_path: Path, endpoint: str) -> None:
        self.cwd = tmp_path
        self.endpoint = endpoint
        self.uri = f"bigquery://{PROJECT}/cli_{uuid.uuid4().hex[:12]}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLINE_")}
        self.env |= {
            "TRACKLINE_HOME": str(tmp_path / "home"),
            "TRACKLINE_WAREHOUSE_URI": self.uri,
            "TRACKLINE_BIGQUERY_ENDPOINT": endpoint,
        }

    def __call__(self, *args: str, code: int = 0) -> Any:
        proc = subprocess.run(
            [sys.executable, "-m", "trackline", *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == code, proc.stderr[-2000:]
        return json.loads(proc.stdout) if "--json" in args and proc.stdout.strip() else proc

    def settings(self) -> Settings:
        """The same home and dataset, for calling trackline from Python."""
        settings: Settings = Settings.load(
            home=self.cwd / "home", warehouse_uri=self.uri, bigquery_endpoint=self.endpoint
        )
        return settings
