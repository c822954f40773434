"""Readers: each input format read as bounded Arrow batches, one module per format.

Every record in a file becomes exactly one row (design.md 3.2): a line that is not JSON, a CSV
row with the wrong number of fields, bytes that are not UTF-8 or a truncated gzip stream are rows
with a `_malformed` reason and their text in `_raw`, never an exception and never a silent drop.
Only I/O failures raise (`TracklineError`, naming the file). All access goes through fsspec, so
a local path and `memory://`, `gs://` or `s3://` URIs read the same way.

A reader gets the file as a `ByteStream` (decompressed, see `stream` and `compression`) and
returns the file's one schema and its batches of any size; `read_batches` regroups them. To add
a format: a module here with a `read` function, registered in `READERS` under the format's name
(`sources.base.Format`), and its extensions in `sources.files.EXTENSIONS`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import pyarrow as pa

from trackline.errors import UsageError
from trackline.sources.base import Format, InputFile
from trackline.sources.readers import csv, json_array, ndjson, parquet
from trackline.sources.readers.encoding import BAD_ENCODING
from trackline.sources.readers.rows import LINES_SCHEMA, META_SCHEMA, regroup, unique_names
from trackline.sources.readers.stream import BLOCK_BYTES, ByteStream

__all__ = [
    "BAD_ENCODING",
    "BLOCK_BYTES",
    "LINES_SCHEMA",
    "META_SCHEMA",
    "READERS",
    "Reader",
    "read_batches",
    "unique_names",
]


class Reader(Protocol):
    """Reads one file: its schema (known before the first batch) and its batches."""

    def __call__(
        self, stream: ByteStream, *, batch_rows: int, block_bytes: int
    ) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]: ...


READERS: dict[Format, Reader] = {
    "ndjson": ndjson.read,
    "json": json_array.read,
    "csv": csv.read,
    "parquet": parquet.read,
}


def read_batches(
    f: InputFile, batch_rows: int = 65_536, *, block_bytes: int = BLOCK_BYTES
) -> pa.RecordBatchReader:
    """Stream one file as record batches of at most `batch_rows` rows, one schema per file.

    Memory is bounded by `block_bytes` (and `ndjson.MAX_LINE_BYTES`), except for JSON arrays,
    which are read whole. The file is opened here; iterate the reader to the end, or drop it, to
    close it. Raises `TracklineError` only for I/O failures, never for bad content.
    """
    if batch_rows < 1 or block_bytes < 1:
        raise UsageError("batch_rows and block_bytes must be positive")
    stream = ByteStream(f)
    try:
        schema, batches = READERS[f.format](stream, batch_rows=batch_rows, block_bytes=block_bytes)
    except BaseException:
        stream.close()
        raise
    return pa.RecordBatchReader.from_batches(
        schema, regroup(schema, batches, batch_rows, stream.close)
    )
