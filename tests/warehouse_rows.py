"""Read rows back from a home's warehouse, read-only (what tests assert on)."""

from __future__ import annotations

from typing import Any

from trackline.config import Settings
from trackline.core import duck


def warehouse_rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    con = duck.connect(settings.warehouse, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
