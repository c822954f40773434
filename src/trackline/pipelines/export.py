"""Spotify data export -> `listens`, converted set-wise in DuckDB (no per-row Python).

Two families of files:
- extended streaming history: `Streaming_History_Audio_*.json` (and the older `endsong_*.json`)
  with `ts`, `username`, `ms_played`, `conn_country`, `master_metadata_*`, `spotify_track_uri`,
  `reason_end`, `skipped`, ... (podcast plays carry `spotify_episode_uri` / `episode_name`);
- account data: `StreamingHistory*.json` with `endTime`, `artistName`, `trackName`, `msPlayed`
  and no track id (a stable `name:<md5>` id is made from artist and title).

Only the named fields are read, so IP addresses (`ip_addr`, `ip_addr_decrypted`) and user
agents (`user_agent_decrypted`) never leave the input file. The converted NDJSON is a pure
function of the input and the user, so importing the same file again gives the same
content-based run id and adds nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from trackline.config import Settings
from trackline.core import duck
from trackline.core.dialect import literal
from trackline.core.hashing import update_from
from trackline.engines.local import LocalEngine, RunResult
from trackline.errors import InputNotFoundError, UsageError

EXTENDED = re.compile(r"^(Streaming_History_(Audio|Video)_.*|endsong_.*)\.json$", re.I)
ACCOUNT = re.compile(r"^StreamingHistory.*\.json$", re.I)
EXTENDED_COLUMNS = (
    "ts", "username", "ms_played", "conn_country", "master_metadata_track_name",
    "master_metadata_album_artist_name", "master_metadata_album_album_name",
    "spotify_track_uri", "episode_name", "episode_show_name", "spotify_episode_uri",
    "reason_end", "skipped",
)  # fmt: skip
ACCOUNT_COLUMNS = ("endTime", "artistName", "trackName", "msPlayed")


@dataclass
class ConvertedFile:
    source: str
    output: Path
    kind: str  # extended | account
    rows: int


def kind_of(path: Path) -> str:
    if EXTENDED.match(path.name):
        return "extended"
    if ACCOUNT.match(path.name):
        return "account"
    raise UsageError(
        f"{path.name}: not a Spotify export file (expected Streaming_History_Audio_*.json, "
        "endsong_*.json or StreamingHistory*.json)"
    )


def _select(kind: str, path: Path, user: str | None) -> str:
    cols = EXTENDED_COLUMNS if kind == "extended" else ACCOUNT_COLUMNS
    spec = "{" + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in cols) + "}"
    src = f"read_json({literal(str(path))}, format='array', columns={spec})"
    u = literal(user) if user else "NULL"
    if kind == "extended":
        return (
            f"SELECT coalesce({u}, username) AS user_id, ts AS played_at, "
            "coalesce(nullif(regexp_extract(spotify_track_uri, '^spotify:track:(.+)$', 1), ''), "
            "spotify_episode_uri) AS track_id, "
            "coalesce(master_metadata_track_name, episode_name) AS track_name, "
            "coalesce(master_metadata_album_artist_name, episode_show_name) AS artist_name, "
            "master_metadata_album_album_name AS album_name, ms_played, "
            "'spotify_export' AS source, conn_country AS country, reason_end, skipped "
            f"FROM {src}"
        )
    return (
        f"SELECT {u} AS user_id, endTime AS played_at, "
        "'name:' || md5(lower(trim(artistName)) || chr(31) || lower(trim(trackName))) "
        "AS track_id, trackName AS track_name, artistName AS artist_name, "
        f"msPlayed AS ms_played, 'spotify_export' AS source FROM {src}"
    )


def convert(path: Path, out_dir: Path, user: str | None) -> ConvertedFile:
    """One export file to NDJSON in `listens` shape (set-wise, in DuckDB)."""
    if not path.is_file():
        raise InputNotFoundError(f"{path}: no such file")
    kind = kind_of(path)
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        update_from(digest, fh)
    digest.update(f"\x1f{user or ''}".encode())
    out = out_dir / f"{path.stem}-{digest.hexdigest()[:16]}.ndjson"
    out_dir.mkdir(parents=True, exist_ok=True)
    con = duck.connect()
    try:
        sql = _select(kind, path, user)
        try:
            row = con.execute(
                f"SELECT count(*), count(*) FILTER (user_id IS NULL) FROM ({sql})"
            ).fetchone()
        except Exception as exc:  # DuckDB's parse errors: the file is not the JSON we expect
            raise UsageError(
                f"{path.name}: cannot read it as a Spotify export JSON array ({exc})"
            ) from None
        assert row is not None
        total, missing_user = int(row[0]), int(row[1])
        if missing_user and not user:
            raise UsageError(
                f"{path.name}: {missing_user} of {total} records name no user; pass --user ID"
            )
        if not out.exists():
            tmp = out.with_suffix(".tmp")
            con.execute(f"COPY ({sql} ORDER BY ALL) TO {literal(str(tmp))} (FORMAT json)")
            tmp.replace(out)
    finally:
        con.close()
    return ConvertedFile(str(path), out, kind, total)


def import_spotify_export(
    settings: Settings, paths: Sequence[str], *, user: str | None = None
) -> tuple[list[ConvertedFile], RunResult]:
    files: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(
                f for f in path.glob("*.json") if EXTENDED.match(f.name) or ACCOUNT.match(f.name)
            )
            if not found:
                raise InputNotFoundError(f"{path}: no Spotify export files in this folder")
            files += found
        else:
            files.append(path)
    if not files:
        raise InputNotFoundError("no input files given")
    out_dir = settings.home / "imports" / "spotify-export"
    converted = [convert(f, out_dir, user) for f in files]
    run = LocalEngine(settings).ingest([str(c.output) for c in converted], "listens")
    return converted, run
