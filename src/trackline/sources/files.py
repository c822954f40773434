"""Input files: resolve the paths, folders and globs a user names into files to read.

A file's format and compression come from its extension (`EXTENSIONS`, `detect`); the readers
for each format are in `sources/readers/`. `read_batches`, `LINES_SCHEMA` and `unique_names`
are re-exported here for the callers that read what they resolve.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import fsspec

from trackline.errors import InputNotFoundError, TracklineError, UsageError
from trackline.sources.base import Format, InputFile
from trackline.sources.readers import BAD_ENCODING, LINES_SCHEMA, read_batches, unique_names
from trackline.sources.readers.stream import is_local

__all__ = [
    "BAD_ENCODING",
    "EXTENSIONS",
    "LINES_SCHEMA",
    "SUPPORTED",
    "detect",
    "expand",
    "read_batches",
    "unique_names",
]

EXTENSIONS: dict[str, Format] = {
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "json",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
SUPPORTED = ", ".join(EXTENSIONS) + " (each optionally followed by .gz)"

_GLOB_CHARS = frozenset("*?[")


def detect(name: str) -> tuple[Format, Literal["gzip"] | None] | None:
    """The format and compression a file name implies, or None when the extension is unknown."""
    lower = name.lower()
    compression: Literal["gzip"] | None = None
    if lower.endswith(".gz"):
        lower, compression = lower[:-3], "gzip"
    dot = lower.rfind(".")
    fmt = EXTENSIONS.get(lower[dot:]) if dot >= 0 else None
    return (fmt, compression) if fmt else None


def expand(paths: Sequence[str]) -> list[InputFile]:
    """Resolve files, folders and globs (local or fsspec URIs) into readable input files.

    Folders are walked recursively; folders and globs skip hidden entries and files whose
    format is unknown, while a file named explicitly must have a known extension. Order: the
    order of `paths`, each expansion sorted; a file reached twice is listed once.
    """
    out: dict[str, InputFile] = {}
    for path in paths:
        for f in _expand_one(path):
            out.setdefault(f.uri, f)
    return list(out.values())


def _expand_one(path: str) -> list[InputFile]:
    try:
        fs, root = fsspec.core.url_to_fs(path)
        if fs.isfile(root):
            return [_named_file(fs, path, root, fs.info(root))]
        if fs.isdir(root):
            found = fs.find(root, detail=True)
            base = root.rstrip("/")
        elif _GLOB_CHARS & set(path):
            found = fs.glob(root, detail=True)
            base = _glob_base(root)
            for p, info in list(found.items()):
                if info.get("type") == "directory":
                    found.update(fs.find(p, detail=True))
        else:
            found = {}
    except FileNotFoundError:  # an object store's glob in a bucket that is not there
        raise InputNotFoundError(
            f"input {path!r}: its bucket or folder does not exist (or these credentials cannot "
            "see it): check the path"
        ) from None
    except OSError as exc:
        raise TracklineError(f"cannot list input {path!r}: {exc}") from exc
    if not found:
        what = (
            "matched no files: check the pattern, and quote it so the shell leaves it alone"
            if _GLOB_CHARS & set(path)
            else "does not exist: check the path"
        )
        raise InputNotFoundError(f"input {path!r} {what}")
    files = [
        _input_file(fs, p, info)
        for p, info in sorted(found.items())
        if info.get("type") != "directory" and not _hidden(p, base) and detect(p) is not None
    ]
    if not files:
        raise InputNotFoundError(
            f"input {path!r} holds no visible files of a supported type "
            f"({SUPPORTED}): check the path"
        )
    return files


def _named_file(fs: Any, path: str, root: str, info: dict[str, Any]) -> InputFile:
    if detect(root) is None:
        raise UsageError(
            f"cannot tell the format of {path!r} from its extension; supported: "
            f"{SUPPORTED}. Rename the file"
        )
    return _input_file(fs, root, info)


def _input_file(fs: Any, path: str, info: dict[str, Any]) -> InputFile:
    detected = detect(path)
    assert detected is not None  # callers filter on detect()
    uri = path if is_local(fs) else fs.unstrip_protocol(path)
    return InputFile(
        uri=uri, format=detected[0], compression=detected[1], size=int(info.get("size") or 0)
    )


def _glob_base(pattern: str) -> str:
    """The folder part of a glob before its first wildcard (hidden checks start below it)."""
    cut = min(i for i, ch in enumerate(pattern) if ch in _GLOB_CHARS)
    return pattern[:cut].rsplit("/", 1)[0]


def _hidden(path: str, base: str) -> bool:
    rel = path[len(base) :] if path.startswith(base) else path.rsplit("/", 1)[-1]
    return any(part.startswith(".") for part in rel.split("/"))
