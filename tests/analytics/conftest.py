"""A hand-built group whose answers are worked out by hand in the tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from trackline.config import Settings
from trackline.engines.local import LocalEngine

NOW = datetime.now(UTC).replace(microsecond=0)
# (user, track, artist) per play. ana: t1 x3, t2, t3; ben: t1, t4 x2; cai: t2, t4, t5
PLAYS = [
    ("ana", "t1", "A"), ("ana", "t1", "A"), ("ana", "t1", "A"), ("ana", "t2", "A"),
    ("ana", "t3", "B"), ("ben", "t1", "A"), ("ben", "t4", "C"), ("ben", "t4", "C"),
    ("cai", "t2", "A"), ("cai", "t4", "C"), ("cai", "t5", "D"),
]  # fmt: skip


def _write(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


@pytest.fixture
def small_group(tmp_path: Path) -> Settings:
    settings = Settings.load(home=tmp_path / "home")
    listens = [
        {
            "user_id": u,
            "played_at": (NOW - timedelta(hours=i + 1)).isoformat(),
            "track_id": t,
            "track_name": f"Track {t}",
            "artist_name": a,
            "ms_played": 60_000,
            "duration_ms": 120_000,
            "source": "spotify_api",
            "genre": "pop",
            "country": "US",
        }
        for i, (u, t, a) in enumerate(PLAYS)
    ]
    engine = LocalEngine(settings)
    engine.ingest([_write(tmp_path / "l.ndjson", listens)], "listens", now=NOW)
    skip = {  # a skip is listening activity, not a play: it must not count anywhere
        "event_id": "e1",
        "user_id": "cai",
        "event_type": "skip",
        "song_id": "t1",
        "artist_name": "A",
        "timestamp": (NOW - timedelta(minutes=5)).isoformat(),
    }
    engine.ingest([_write(tmp_path / "e.ndjson", [skip])], "listening_events", now=NOW)
    return settings
