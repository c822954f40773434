"""Plan: what a run reads and which run it is.

The inputs a user names are resolved to files and hashed; the run id is derived from what went
in (`runs.manifest.run_id_for`), so the same inputs are the same run, found already done by
`previous`. The hash pass also scans the lines of the files that may take the fast NDJSON read
(`sources.readers.ndjson_fast.LineScan`), since it reads every byte anyway.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import fsspec

from trackline import __version__
from trackline.config import Settings
from trackline.contracts.spec import Contract
from trackline.core.hashing import sha256_stream
from trackline.errors import UsageError
from trackline.runs.manifest import InputRecord, Manifest, run_id_for
from trackline.sources.base import InputFile
from trackline.sources.files import expand
from trackline.sources.readers.ndjson_fast import LineScan, eligible


@dataclass
class Hashed:
    """Each input's content hash and size, and for a file that may read fast, its lines."""

    digests: list[tuple[str, int]]
    scans: list[LineScan | None]


def resolve(paths: Sequence[str]) -> list[InputFile]:
    """The files a run reads, in order, from the files, folders and globs named."""
    files = expand(paths)
    if not files:
        raise UsageError("no input files given: name at least one file, folder or glob")
    return files


def hash_inputs(
    files: list[InputFile],
    *,
    scan_lines: bool,
    threads: int | None,
    copy_to: Callable[[InputFile], Any] | None = None,
) -> Hashed:
    """Every input's hash and size, several files at once (hashing releases the GIL); with
    `scan_lines`, what the same pass saw of the lines of each file that may read fast; else
    each file's bytes also go to what `copy_to` gives for it (a writer, or None)."""

    def one(f: InputFile) -> tuple[str, int, LineScan | None]:
        scan = LineScan() if scan_lines and eligible(f) else None
        sink = scan if scan is not None or copy_to is None else copy_to(f)
        fs, path = fsspec.core.url_to_fs(f.uri)
        with fs.open(path, "rb") as fh:
            digest, size = sha256_stream(fh, copy_to=sink)
        return digest, size, scan

    if len(files) < 2:
        done = [one(f) for f in files]
    else:
        workers = min(len(files), threads or os.cpu_count() or 1)
        with ThreadPoolExecutor(workers, thread_name_prefix="trackline-hash") as pool:
            done = list(pool.map(one, files))
    return Hashed([(h, n) for h, n, _ in done], [s for _, _, s in done])


def new_manifest(
    settings: Settings,
    contract: Contract,
    files: list[InputFile],
    hashed: Hashed,
    started: datetime,
    *,
    force: bool,
) -> Manifest:
    """A new run's manifest; `force` gives it an id of its own (the inputs are checked again)."""
    config_hash = settings.fingerprint()
    run_id = run_id_for(
        contract.name,
        contract.digest,
        config_hash,
        [h for h, _ in hashed.digests] + ([uuid.uuid4().hex] if force else []),
    )
    return Manifest(
        run_id=run_id,
        dataset=contract.name,
        contract={
            "name": contract.name,
            "version": contract.version,
            "digest": contract.digest,
            "origin": contract.origin,
        },
        config_hash=config_hash,
        package_version=__version__,
        started_at=started,
        inputs=[
            InputRecord(uri=f.uri, format=f.format, compression=f.compression, bytes=size, sha256=h)
            for f, (h, size) in zip(files, hashed.digests, strict=True)
        ],
    )


def previous(con: duckdb.DuckDBPyConnection, run_id: str) -> Manifest | None:
    """The manifest of the run with this id, if one was done."""
    row = con.execute(
        "SELECT manifest FROM meta.runs WHERE run_id = ? AND status = 'done'", [run_id]
    ).fetchone()
    return None if row is None else Manifest.model_validate_json(row[0])
