"""A warehouse where one member's most frequent track was only ever listened to briefly.

ana: t1 x3 (60 s), t9 x5 (10 s each, skipped); ben: t9 x1 (60 s), t1 x2 (60 s), t7 x2 (60 s);
cai: t7 x1 (60 s). With `min_play_ms` 30000 ana played t9 zero times; with 0, five times.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from trackline.config import Settings
from trackline.engines.local import LocalEngine

NOW = datetime.now(UTC).replace(microsecond=0)
LISTENS = [
    ("ana", "t1", 60_000, False), ("ana", "t1", 60_000, False), ("ana", "t1", 60_000, False),
    ("ana", "t9", 10_000, True), ("ana", "t9", 10_000, True), ("ana", "t9", 10_000, True),
    ("ana", "t9", 10_000, True), ("ana", "t9", 10_000, True),
    ("ben", "t9", 60_000, False), ("ben", "t1", 60_000, False), ("ben", "t1", 60_000, False),
    ("ben", "t7", 60_000, False), ("ben", "t7", 60_000, False),
    ("cai", "t7", 60_000, False),
]  # fmt: skip


def build(tmp_path: Path, **settings: object) -> Settings:
    """Ingest the listens (as the export would give them) into a fresh home."""
    s = Settings.load(home=tmp_path / "home", **settings)
    rows = [
        {
            "user_id": u,
            "played_at": (NOW - timedelta(minutes=10 * i + 1)).isoformat(),
            "track_id": t,
            "track_name": f"Track {t}",
            "artist_name": f"Artist {t}",
            "ms_played": ms,
            "duration_ms": 200_000,
            "skipped": skipped,
            "source": "spotify_export",
        }
        for i, (u, t, ms, skipped) in enumerate(LISTENS)
    ]
    path = tmp_path / "listens.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = LocalEngine(s).ingest([str(path)], "listens", now=NOW)
    assert run.manifest.counts.valid == len(LISTENS)
    return s
