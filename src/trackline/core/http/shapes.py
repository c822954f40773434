"""Defensive access to decoded JSON: APIs send nulls and wrong types; records must not crash.

An entry of a page that is not an object (Spotify sends `null` for an entry it cannot show)
is never dropped unseen: `items(page, odd=found)` collects it for the caller, which reports it
(`FetchContext.odd_entries`: a record the contract rejects as `malformed`, and a note).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def obj(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def indexed_items(
    page: Mapping[str, Any], key: str = "items", odd: list[Any] | None = None
) -> list[tuple[int, dict[str, Any]]]:
    """The objects in `page[key]` with their position in the page (a rank, an offset). Entries
    that are not objects go to `odd` (when given), in order."""
    found = page.get(key)
    if not isinstance(found, list):
        return []
    out: list[tuple[int, dict[str, Any]]] = []
    for i, x in enumerate(found):
        if isinstance(x, dict):
            out.append((i, x))
        elif odd is not None:
            odd.append(x)
    return out


def items(
    page: Mapping[str, Any], key: str = "items", odd: list[Any] | None = None
) -> list[dict[str, Any]]:
    """The objects in `page[key]`; entries that are not objects go to `odd` (when given)."""
    return [x for _, x in indexed_items(page, key, odd)]
