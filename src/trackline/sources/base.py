"""The shape every source hands to the validation kernel.

A source produces Arrow record batches in one of two shapes (see contracts/kernel.py):
- *json*: a `_raw` string column, one JSON text per record;
- *columns*: one column per field (any Arrow type; CSV gives strings).
Both may carry `_source_file` (string), `_source_line` (int64, 1-based line or record number)
and `_malformed` (string: why the reader could not split the record; NULL when it could).
A malformed record is still a row: the kernel rejects it with reason `malformed` and keeps its
text in `_raw`. Sources never raise on bad content, and never drop a record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Format = Literal["ndjson", "json", "csv", "parquet"]
FORMATS: tuple[Format, ...] = ("ndjson", "json", "csv", "parquet")


@dataclass(frozen=True)
class InputFile:
    """One input file, resolved from a user's path or glob."""

    uri: str  # a local path or an fsspec URI
    format: Format
    compression: Literal["gzip"] | None
    size: int  # bytes as stored (compressed size for .gz)

    @property
    def name(self) -> str:
        return self.uri.rstrip("/").rsplit("/", 1)[-1]
