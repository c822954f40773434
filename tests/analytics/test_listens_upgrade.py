"""Upgrading `listens` v1 -> v2 (#25 points 5, 7): the old table gains the new columns on the
next load, nothing is rewritten, and a play stored by v1 (the API's milliseconds) and imported
again from an export (seconds) counts once in analytics."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from tests.pipelines.export_files import extended, write
from tests.warehouse_rows import warehouse_rows
from trackline.analytics.group_listening import analyse_group
from trackline.config import Settings
from trackline.engines.local import LocalEngine
from trackline.pipelines.export import import_spotify_export

# listens as version 1 declared it (played_at kept as given; no play details)
V1 = """\
name: listens
version: 1
primary_key: [user_id, played_at, track_id]
event_time: played_at
fields:
  user_id:     {type: string, required: true}
  played_at:   {type: timestamp, required: true, not_future: true}
  track_id:    {type: string, required: true}
  artist_name: {type: string, normalize: trim}
  ms_played:   {type: int64, min: 0}
  source:      {type: string, required: true}
  country:     {type: string}
  skipped:     {type: bool}
derived:
  minutes_played: ms_played / 60000.0
"""
PLAYS = [("2025-04-01T10:00:00.250Z", "t1"), ("2025-04-01T10:04:00.900Z", "t2")]


def test_v1_rows_and_an_overlapping_export_count_once(tmp_path: Path) -> None:
    old = tmp_path / "contracts"
    old.mkdir()
    (old / "listens.yaml").write_text(V1)
    v1 = Settings.load(home=tmp_path / "home", contracts_dir=old)
    api = tmp_path / "api.ndjson"
    api.write_text(
        "".join(
            json.dumps({"user_id": "ivy", "played_at": at, "track_id": t, "source": "spotify_api"})
            + "\n"
            for at, t in PLAYS
        )
    )
    assert LocalEngine(v1).ingest([str(api)], "listens").manifest.counts.valid == 2
    stored = warehouse_rows(v1, "SELECT played_at FROM listens ORDER BY 1")
    assert stored[0][0] == datetime(2025, 4, 1, 10, 0, 0, 250000, tzinfo=UTC)  # as v1 kept it

    v2 = Settings.load(home=tmp_path / "home")
    export = write(
        tmp_path / "Streaming_History_Audio_2025_0.json",
        [extended(at[:19] + "Z", user="ivy", track=t) for at, t in PLAYS]
        + [extended("2025-04-01T11:00:00Z", user="ivy", track="t3", reason_start="clickrow")],
    )
    done = import_spotify_export(v2, [str(export)])
    assert done.runs["listens"].manifest.counts.input == 3
    columns = {r[0] for r in warehouse_rows(v2, "DESCRIBE listens")}
    assert {"reason_start", "account_country", "incognito_mode", "platform"} <= columns
    assert warehouse_rows(v2, "SELECT count(*) FROM listens WHERE reason_start IS NULL") == [
        (2,)
    ]  # the v1 rows: kept as they were, new columns NULL
    report = analyse_group(v2, ["ivy"])
    assert report["per_member"]["ivy"]["plays"] == 3  # t1, t2 once each, and t3
