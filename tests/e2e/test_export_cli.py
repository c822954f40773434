"""#25 points 3, 4 through the CLI: people whose history came only from an export are known to
groups, sessions and analytics; podcasts land in episodes; a local file's play is a rejected
row of listens (counted), not a listen; `--json` is one document."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import CLI
from tests.pipelines.export_files import extended, write


def test_export_users_can_form_groups_and_sessions(cli: CLI, tmp_path: Path) -> None:
    src = write(
        tmp_path / "Streaming_History_Audio_2025_0.json",
        [
            extended("2025-05-01T10:00:00Z", user="nina", track="4uLU6hMCjMI75M1A2tKUQC"),
            extended("2025-05-01T10:05:00Z", user="nina", track="6rqhFgbbKwnb9MLmUQDhG6"),
            extended(  # a local file: names, no track URI
                "2025-05-01T10:09:00Z",
                user="nina",
                master_metadata_track_name="Home demo",
                master_metadata_album_artist_name="Nina",
                spotify_track_uri=None,
            ),
            extended("2025-05-01T11:00:00Z", user="omar", track="4uLU6hMCjMI75M1A2tKUQC"),
            extended("2025-05-01T12:00:00Z", user="omar", episode="512ojhOuo1ktJprKbVcKyQ"),
        ],
    )
    before = cli("groups", "create", "duo", "--user", "nina", "--user", "omar")
    assert before.code == 2 and "unknown user" in before.err  # nobody knows them yet

    res = cli("import", "spotify-export", str(src), "--json")
    assert res.code == 0, res.err
    doc = res.json()
    counts = doc["counts"]
    assert doc["dataset"] == "listens" and (counts["input"], counts["valid"]) == (4, 3)
    assert counts["rejected"] == 1 and counts["rejected_by_reason"] == {"required:track_id": 1}
    assert doc["runs"]["episodes"]["counts"]["valid"] == 1
    assert doc["files"][0]["datasets"] == {"listens": 4, "episodes": 1}
    assert doc["users"] == ["nina", "omar"]

    made = cli("groups", "create", "duo", "--user", "nina", "--user", "omar")
    assert made.code == 0, made.err
    session = cli("sessions", "create", "--user", "nina", "--user", "omar", "--json")
    assert session.code == 0, session.err
    assert sorted(u["user_id"] for u in session.json()["users"]) == ["nina", "omar"]
    report = cli("analytics", "group", "--group", "duo", "--json")
    assert report.code == 0, report.err
    members = report.json()["per_member"]
    assert members["omar"]["plays"] == 1  # the episode is not a track play
    assert members["nina"]["plays"] == 2  # nor is the local file
