"""What the stream tests share: reading back the warehouse and the lake."""

from __future__ import annotations

import json
from pathlib import Path

from trackline.core import duck
from trackline.stream.events import EVENT_TYPES
from trackline.stream.publisher import PublishResult


def warehouse_ids(path: Path) -> dict[str, list[str]]:
    """event_id per table, every row (so a doubled row shows as a repeat)."""
    con = duck.connect(path, read_only=True)
    try:
        have = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        return {
            t: [r[0] for r in con.execute(f"SELECT event_id FROM {t}").fetchall()]
            for t in EVENT_TYPES
            if t in have
        }
    finally:
        con.close()


def error_message_ids(lake: Path) -> set[str]:
    ids = set()
    for f in (lake / "raw" / "errors").rglob("*.ndjson"):
        for line in f.read_text().splitlines():
            ids.add(json.loads(line)["message_id"])
    return ids


def raw_lines(lake: Path) -> int:
    return sum(
        len(f.read_bytes().splitlines())
        for f in (lake / "raw").rglob("*.ndjson")
        if "errors" not in f.relative_to(lake / "raw").parts
    )


def expected(result: PublishResult) -> tuple[dict[str, set[str]], set[str]]:
    """Valid event ids per type, and the message ids of invalid (non-duplicate) records."""
    valid: dict[str, set[str]] = {}
    invalid = set()
    for r in result.records:
        if r.kind == "valid":
            assert r.event_id is not None
            valid.setdefault(r.event_type, set()).add(r.event_id)
        elif r.kind != "duplicate":
            invalid.add(r.message_id)
    return valid, invalid


def assert_exactly_once(warehouse: Path, lake: Path, result: PublishResult) -> None:
    valid, invalid = expected(result)
    got = warehouse_ids(warehouse)
    for event_type, ids in valid.items():
        rows = got.get(event_type, [])
        assert len(rows) == len(set(rows)), f"{event_type}: a row was written twice"
        assert set(rows) == ids, f"{event_type}: {len(ids - set(rows))} valid events missing"
    assert error_message_ids(lake) >= invalid, "an invalid event is missing from raw/errors"
