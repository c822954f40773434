"""Spotify data export -> `listens` (music) and `episodes` (podcasts, audiobooks), set-wise.

Files (what each holds and where it goes: `export_sql`):
- extended streaming history: `Streaming_History_Audio_*.json`, `Streaming_History_Video_*.json`
  (and the older `endsong_*.json`), with `ts`, `username`, `ms_played`, `conn_country`,
  `master_metadata_*`, `spotify_track_uri`, `episode_*`, `audiobook_*`, `reason_start`,
  `reason_end`, `shuffle`, `skipped`, `offline`, `offline_timestamp`, `incognito_mode`,
  `platform`;
- account data: `StreamingHistory_music_*.json` (and the older `StreamingHistory<n>.json`) with
  `endTime`, `artistName`, `trackName`, `msPlayed`; `StreamingHistory_podcast_*.json` with
  `endTime`, `podcastName`, `episodeName`, `msPlayed`. No ids and no user name: `--user`.

Each file becomes one NDJSON file per dataset it feeds, a pure function of the input and the
user, so importing the same files again gives the same content-based run ids and adds nothing;
every record lands in exactly one dataset (a file's records = its listens + its episodes rows),
where the contract accounts for it (valid, rejected with its reasons, or duplicate).

The users an import names become known to the state store (as `trackline users add` without
tokens would), so groups and sessions accept people whose history came only from an export.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from trackline.config import Settings
from trackline.core import duck
from trackline.core.dialect import literal
from trackline.core.hashing import update_from
from trackline.engines.local import LocalEngine, RunResult
from trackline.errors import InputNotFoundError, UsageError
from trackline.pipelines.export_sql import DATASETS, select

log = logging.getLogger(__name__)

EXTENDED = re.compile(r"^(Streaming_History_(Audio|Video)_.*|endsong_.*)\.json$", re.I)
ACCOUNT_PODCAST = re.compile(r"^StreamingHistory_podcast_.*\.json$", re.I)
ACCOUNT = re.compile(r"^StreamingHistory.*\.json$", re.I)


@dataclass
class ConvertedFile:
    source: str
    kind: str  # extended | account | account_podcast
    rows: int
    outputs: dict[str, Path] = field(default_factory=dict)  # dataset -> NDJSON (rows > 0)
    counts: dict[str, int] = field(default_factory=dict)  # dataset -> rows
    users: set[str] = field(default_factory=set)


@dataclass
class ExportImport:
    files: list[ConvertedFile]
    runs: dict[str, RunResult]  # dataset -> its run (a dataset no file fed has none)

    @property
    def main(self) -> RunResult:
        """The run the JSON's top level describes: listens when any, else episodes."""
        return self.runs.get("listens") or self.runs["episodes"]

    users: list[str]  # now known to the state store
    unregistered: dict[str, str] = field(default_factory=dict)  # user -> why not


def kind_of(path: Path) -> str:
    if EXTENDED.match(path.name):
        return "extended"
    if ACCOUNT_PODCAST.match(path.name):
        return "account_podcast"
    if ACCOUNT.match(path.name):
        return "account"
    raise UsageError(
        f"{path.name}: not a Spotify export file (expected Streaming_History_Audio_*.json, "
        "Streaming_History_Video_*.json, endsong_*.json or StreamingHistory*.json)"
    )


def _family(kind: str) -> str:
    return "account_music" if kind == "account" else kind


def convert(path: Path, out_dir: Path, user: str | None) -> ConvertedFile:
    """One export file to an NDJSON file per dataset it feeds (set-wise, in DuckDB)."""
    if not path.is_file():
        raise InputNotFoundError(f"{path}: no such file")
    kind = kind_of(path)
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        update_from(digest, fh)
    digest.update(f"\x1f{user or ''}".encode())
    stem = f"{path.stem}-{digest.hexdigest()[:16]}"
    out_dir.mkdir(parents=True, exist_ok=True)
    con = duck.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        converted = ConvertedFile(str(path), kind, 0)
        missing = 0
        for dataset in DATASETS:
            sql = select(_family(kind), dataset, str(path), user)
            try:
                row = con.execute(
                    f"SELECT count(*), count(*) FILTER (user_id IS NULL), "
                    f"list(DISTINCT user_id) FILTER (user_id IS NOT NULL) FROM ({sql})"
                ).fetchone()
            except Exception as exc:  # DuckDB's parse errors: the file is not the JSON we expect
                first = str(exc).splitlines()[0]
                raise UsageError(
                    f"{path.name}: cannot read it as a Spotify export JSON array ({first})"
                ) from None
            assert row is not None
            n, missing = int(row[0]), missing + int(row[1])
            converted.counts[dataset] = n
            converted.users |= {str(u) for u in row[2] or []}
            if n:
                out = out_dir / f"{stem}.{dataset}.ndjson"
                if not out.exists():
                    tmp = out.with_suffix(".tmp")
                    con.execute(f"COPY ({sql} ORDER BY ALL) TO {literal(str(tmp))} (FORMAT json)")
                    tmp.replace(out)
                converted.outputs[dataset] = out
        converted.rows = sum(converted.counts.values())
        if missing and not user:
            raise UsageError(
                f"{path.name}: {missing} of {converted.rows} records name no user; pass --user ID"
            )
    finally:
        con.close()
    return converted


def _files(paths: Sequence[str]) -> list[Path]:
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
    return files


def register_users(settings: Settings, users: set[str]) -> tuple[list[str], dict[str, str]]:
    """Make each user known to the state store, as `users add ID` without tokens does (an
    existing user is left as is). A name the store cannot take is reported, not fatal: the
    plays are imported either way."""
    from trackline.state import open_state
    from trackline.state.base import check_user_id
    from trackline.state.errors import InvalidNameError

    known: list[str] = []
    refused: dict[str, str] = {}
    if not users:
        return known, refused
    settings.ensure_home()
    store = open_state(settings)
    try:
        for u in sorted(users):
            try:
                check_user_id(u)
            except InvalidNameError as exc:
                refused[u] = str(exc)
                continue
            store.add_user(u)
            known.append(u)
    finally:
        store.close()
    log.info("export.users known=%d refused=%d", len(known), len(refused))
    return known, refused


def import_spotify_export(
    settings: Settings, paths: Sequence[str], *, user: str | None = None
) -> ExportImport:
    """Convert every file, load each dataset the files feed in one run, make the users known."""
    files = _files(paths)
    out_dir = settings.home / "imports" / "spotify-export"
    converted = [convert(f, out_dir, user) for f in files]
    engine = LocalEngine(settings)
    runs: dict[str, RunResult] = {}
    for dataset in DATASETS:
        inputs = [str(c.outputs[dataset]) for c in converted if dataset in c.outputs]
        if inputs:
            runs[dataset] = engine.ingest(inputs, dataset)
    if not runs:
        raise InputNotFoundError(
            f"no records in {', '.join(c.source for c in converted)}: nothing to import"
        )
    users = set().union(*(c.users for c in converted))
    known, refused = register_users(settings, users)
    return ExportImport(converted, runs, known, refused)
