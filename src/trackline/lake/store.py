"""A lake root on any fsspec filesystem: paths, raw landing, stored files and documents.

Everything goes through fsspec, so a local path, `memory://`, `gs://` or `s3://` work with no
code change (remote ones need `trackline[gcp]` / `trackline[s3]`). Partitioned Parquet is
written by `trackline.lake.partitions`.

An object store has no temporary names to rename from: an object appears whole when its
upload finishes, so every file is written once, under its final name. The bucket must exist:
it is checked once per process, so a missing bucket is one clear error before anything runs.
With `STORAGE_EMULATOR_HOST` set (a GCS emulator), gcsfs talks to it anonymously (no
credential lookup, no metadata-server probe) and its experimental zonal/HNS support is
switched off before gcsfs is imported (with it on, gcsfs releases from 2026 wait forever on
the emulator); see docs/lake.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shutil
from dataclasses import dataclass
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from trackline.core.hashing import sha256_stream
from trackline.errors import ConfigError, TracklineError


@dataclass(frozen=True)
class StoredFile:
    """A file the run wrote: where, how many rows (None for non-tabular), content hash."""

    path: str
    rows: int | None
    bytes: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "rows": self.rows, "bytes": self.bytes, "sha256": self.sha256}


# buckets found to exist in this process (checked once: one call, not one per Lake)
_BUCKETS_SEEN: set[tuple[str, str]] = set()


def storage_options(uri: str) -> dict[str, Any]:
    """fsspec options for `uri`: on a GCS emulator (`STORAGE_EMULATOR_HOST`), anonymous access
    (gcsfs would otherwise look for Google credentials first, probing the metadata server for
    about two seconds), also made fsspec's default for gs:// so input files read the same way;
    and gcsfs's experimental zonal/HNS code path kept off before gcsfs is first imported. The
    caller's own settings win."""
    if uri.startswith(("gs://", "gcs://")) and os.environ.get("STORAGE_EMULATOR_HOST"):
        os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
        for proto in ("gs", "gcs"):
            fsspec.config.conf.setdefault(proto, {}).setdefault("token", "anon")
        return {"token": "anon"}
    return {}


class Lake:
    """A lake root on any fsspec filesystem."""

    def __init__(self, uri: str) -> None:
        try:
            self.fs, root = fsspec.core.url_to_fs(uri, **storage_options(uri))
        except (ImportError, ValueError) as exc:
            raise ConfigError(
                f"cannot open lake {uri!r}: {exc} (for gs:// install "
                "trackline[gcp]; for s3:// trackline[s3])"
            ) from None
        self.root = root.rstrip("/") or "/"
        self.uri = uri
        self.is_local = "file" in _protocols(self.fs)
        if self.is_local:
            self.fs.makedirs(self.root, exist_ok=True)
        else:
            self._check_bucket()

    def _check_bucket(self) -> None:
        proto = _protocols(self.fs)[0]
        if proto == "memory":
            return
        bucket = self.root.strip("/").split("/", 1)[0]
        if (proto, bucket) in _BUCKETS_SEEN:
            return
        where = f"{proto}://{bucket}"
        try:
            self.fs.info(bucket)
        except FileNotFoundError:
            raise ConfigError(
                f"the lake bucket {where} does not exist (or these credentials cannot see "
                f"it): create it (e.g. `gcloud storage buckets create {where}`) or fix lake_uri"
            ) from None
        except (OSError, ValueError) as exc:
            raise TracklineError(
                f"cannot reach the lake bucket {where}: {type(exc).__name__}: {exc}"
            ) from None
        _BUCKETS_SEEN.add((proto, bucket))

    # Paths -------------------------------------------------------------------------------
    def path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def display(self, path: str) -> str:
        """A path as the user should see it (with its protocol when not local)."""
        if self.is_local:
            return path
        proto = _protocols(self.fs)[0]
        return f"{proto}://{path.lstrip('/')}" if proto == "memory" else f"{proto}://{path}"

    # Raw landing -------------------------------------------------------------------------
    def land(self, src_uri: str, dest: str, *, sha256: str | None = None) -> StoredFile:
        """Copy an input file byte for byte (as received).

        Local to local uses the OS copy (no bytes through Python) and trusts `sha256`, the
        hash just computed from the same file; otherwise bytes stream through and are hashed.
        """
        self.fs.makedirs(posixpath.dirname(dest), exist_ok=True)
        src_fs, src_path = fsspec.core.url_to_fs(src_uri, **storage_options(src_uri))
        try:
            if sha256 is not None and self.is_local and "file" in _protocols(src_fs):
                _copy_local(src_path, dest)
                return StoredFile(dest, None, os.path.getsize(dest), sha256)
            with src_fs.open(src_path, "rb") as fin, self.fs.open(dest, "wb") as fout:
                digest, size = sha256_stream(fin, copy_to=fout)
        except OSError as exc:
            raise TracklineError(f"cannot land {src_uri} in the lake: {exc}") from None
        return StoredFile(dest, None, size, digest)

    # Tabular outputs ---------------------------------------------------------------------
    def write_parquet(self, reader: pa.RecordBatchReader, path: str) -> StoredFile:
        self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
        rows = 0
        with self.fs.open(path, "wb") as out, pq.ParquetWriter(out, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
                rows += batch.num_rows
        return self._stored(path, rows)

    def stored(self, path: str, rows: int | None) -> StoredFile:
        """Describe a file already in the lake (size and content hash)."""
        return self._stored(path, rows)

    def _stored(self, path: str, rows: int | None) -> StoredFile:
        with self.fs.open(path, "rb") as f:
            digest, size = sha256_stream(f)
        return StoredFile(path, rows, size, digest)

    # Documents ---------------------------------------------------------------------------
    def write_text(self, path: str, text: str) -> StoredFile:
        self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
        data = text.encode("utf-8")
        with self.fs.open(path, "wb") as f:
            f.write(data)
        return StoredFile(path, None, len(data), hashlib.sha256(data).hexdigest())

    def write_json(self, path: str, obj: Any) -> StoredFile:
        return self.write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str))

    def read_json(self, path: str) -> Any:
        with self.fs.open(path, "rb") as f:
            return json.loads(f.read())

    def discard(self, out: Any) -> None:
        """Drop a file being written (`fs.open(..., "wb")`, or a `HashingWriter` around one)
        without publishing it: on an object store closing would upload a partial object, so
        the upload is cancelled instead; a local or memory file is closed (the failed run's
        withdraw removes it)."""
        raw = getattr(out, "out", out)
        if isinstance(raw, fsspec.spec.AbstractBufferedFile) and not self.is_local:
            raw.discard()  # gcsfs: cancels a resumable upload already started
            raw.closed = True  # nothing is flushed any more: no object appears
            return
        out.close()

    def exists(self, path: str) -> bool:
        return bool(self.fs.exists(path))

    def remove(self, path: str) -> None:
        if self.fs.exists(path):
            self.fs.rm(path, recursive=True)


def _protocols(fs: Any) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)


def _copy_local(src: str, dest: str) -> None:
    """Copy a local file inside the OS kernel: `copy_file_range` where there is one (no bytes
    through user space; a reflink where the filesystem shares blocks), else `shutil.copyfile`."""
    copy_range = getattr(os, "copy_file_range", None)
    if copy_range is None:
        shutil.copyfile(src, dest)
        return
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        left = os.fstat(fin.fileno()).st_size
        try:
            while left > 0:
                n = copy_range(fin.fileno(), fout.fileno(), left)
                if n == 0:  # the source shrank while being copied: copy what there is
                    break
                left -= n
        except OSError:  # not supported between these filesystems
            fin.seek(0)
            fout.seek(0)
            fout.truncate()
            shutil.copyfileobj(fin, fout, 1 << 20)
