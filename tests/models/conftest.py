"""A small warehouse made the way a user makes one: generated files, ingested by the engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from trackline.config import Settings
from trackline.core import duck
from trackline.engines.local import LocalEngine
from trackline.generate import generator

NOW = datetime.now(UTC).replace(microsecond=0)
#: Some datasets are left out on purpose: models must build over missing source tables.
SIZES = {
    "listens": 3000,
    "listening_events": 2000,
    "orders": 400,
    "inventory": 300,
    "user_activity": 400,
    "products": 15,  # fewer than the 20 products carts name: dim_products infers the rest
    "users": 10,
    "carts": 150,
}
GROUP = ("user_0001", "user_0002", "user_0003", "user_0004")


@dataclass
class Warehouse:
    home: Path
    settings: Settings

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        con = duck.connect(self.settings.warehouse, read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def one(self, sql: str) -> Any:
        return self.rows(sql)[0][0]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLINE_")}
        env["TRACKLINE_HOME"] = str(self.home)
        return subprocess.run(
            [sys.executable, "-m", "trackline", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )


def ingest(settings: Settings, folder: Path, dataset: str, count: int, seed: int = 1) -> None:
    path = folder / f"{dataset}-{seed}.ndjson"
    generator.write(dataset, count, path, invalid_share=0.05, seed=seed, now=NOW)
    LocalEngine(settings).ingest([str(path)], dataset, now=NOW)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    home = tmp_path_factory.mktemp("models") / "home"
    settings = Settings.load(home=home)
    data = home.parent / "data"
    for dataset, count in SIZES.items():
        ingest(settings, data, dataset, count)
    # a play as listens v1 stored it (the API's milliseconds) beside the same play as v2 stores
    # it (to the second): the models must count it once
    con = duck.connect(settings.warehouse)
    try:
        con.execute(
            "INSERT INTO main.listens SELECT * REPLACE (played_at + INTERVAL 250 MILLISECOND "
            "AS played_at, 'v1' AS run_id) FROM main.listens ORDER BY played_at LIMIT 1"
        )
    finally:
        con.close()
    return Warehouse(home, settings)


@pytest.fixture(scope="module")
def modelled(warehouse: Warehouse) -> tuple[Warehouse, dict[str, Any]]:
    """`trackline model --json` run once on the ingested warehouse, with one named group."""
    from trackline.analytics.members import set_members

    set_members(warehouse.settings, "friends", list(GROUP))
    proc = warehouse.cli("model", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return warehouse, json.loads(proc.stdout)
