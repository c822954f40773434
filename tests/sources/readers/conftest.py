"""Helpers for reader tests: real files on disk and in memory://, read through `read_batches`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest

from trackline.sources.base import InputFile
from trackline.sources.files import expand, read_batches

META = ["_raw", "_source_file", "_source_line", "_malformed"]


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def one(path: Path | str) -> InputFile:
    [f] = expand([str(path)])
    return f


def rows(f: InputFile | Path, batch_rows: int = 65_536, **kw: Any) -> list[dict[str, Any]]:
    f = one(f) if isinstance(f, Path) else f
    result: list[dict[str, Any]] = read_batches(f, batch_rows, **kw).read_all().to_pylist()
    return result


def lines_of(result: list[dict[str, Any]]) -> list[tuple[int, str, str | None]]:
    return [(r["_source_line"], r["_raw"], r["_malformed"]) for r in result]


def event(i: int, **over: Any) -> dict[str, Any]:
    e = {
        "event_id": f"e{i}",
        "user_id": f"u{i % 7}",
        "event_type": "play",
        "song_id": f"s{i}",
        "position_ms": 10,
        "duration_ms": 1000,
        "timestamp": "2024-05-01T12:00:00Z",
    }
    e.update(over)
    return e


@pytest.fixture
def mem() -> Iterator[str]:
    """A fresh memory:// folder, removed afterwards (the memory filesystem is global)."""
    root = f"memory://t-{uuid.uuid4().hex}"
    yield root
    fs = fsspec.filesystem("memory")
    if fs.exists(root):
        fs.rm(root, recursive=True)
