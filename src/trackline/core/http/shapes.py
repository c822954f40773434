"""Defensive access to decoded JSON: APIs send nulls and wrong types; records must not crash."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def obj(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def items(page: Mapping[str, Any], key: str = "items") -> list[dict[str, Any]]:
    """The objects in `page[key]` (non-objects are skipped: the caller notes counts)."""
    found = page.get(key)
    return [x for x in found if isinstance(x, dict)] if isinstance(found, list) else []
