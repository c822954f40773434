"""Parquet: the file's own typed columns, one row per row of the file.

columns shape with the file's types plus `_source_file`, `_source_line` (the 1-based row number)
and `_malformed`, set only on the one row that reports a file damaged mid-way; the rows before
the damage are kept. A file that cannot be opened at all is one malformed json-shape row.
Column names that clash with the meta columns get a suffix (see `unique_names`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from trackline.contracts.reasons import Malformed
from trackline.sources.base import InputFile
from trackline.sources.readers.rows import (
    LINES_SCHEMA,
    META_SCHEMA,
    arange,
    constant,
    meta_batch,
    unique_names,
)
from trackline.sources.readers.stream import BLOCK_BYTES, ByteStream

PARQUET_META = ("_source_file", "_source_line", "_malformed")


def read(
    stream: ByteStream, *, batch_rows: int, block_bytes: int
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The file's typed columns plus row numbers; an unreadable file is one malformed row."""
    f = stream.file
    source: Any = stream
    if f.compression:  # Parquet needs random access: decompress to a temporary file first
        source = tempfile.TemporaryFile()  # noqa: SIM115 (closed when the reader ends)
        shutil.copyfileobj(stream, source, BLOCK_BYTES)
        source.seek(0)
        if stream.gzip_error:
            source.close()
            return LINES_SCHEMA, iter([meta_batch(f, [""], [1], [stream.gzip_error])])
    try:
        pf = pq.ParquetFile(source)
        file_schema = pf.schema_arrow
    except (pa.ArrowException, OSError, ValueError) as exc:
        if source is not stream:
            source.close()
        return LINES_SCHEMA, iter([meta_batch(f, [""], [1], [_unreadable(exc)])])
    names = unique_names(file_schema.names, reserved=PARQUET_META)
    schema = pa.schema(
        [pa.field(n, t.type) for n, t in zip(names, file_schema, strict=True)]
        + [META_SCHEMA.field(m) for m in PARQUET_META]
    )
    temp = source if source is not stream else None
    return schema, _rows(f, pf, schema, batch_rows, temp)


def _rows(
    f: InputFile, pf: pq.ParquetFile, schema: pa.Schema, batch_rows: int, temp: Any
) -> Iterator[pa.RecordBatch]:
    row = 1
    width = len(schema) - len(PARQUET_META)
    try:
        batches = pf.iter_batches(batch_size=batch_rows)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except (pa.ArrowException, OSError, ValueError) as exc:
                nulls = [pa.nulls(1, schema.field(i).type) for i in range(width)]
                yield pa.RecordBatch.from_arrays(
                    [
                        *nulls,
                        constant(f.uri, 1),
                        pa.array([row], pa.int64()),
                        pa.array([_unreadable(exc)], pa.string()),
                    ],
                    schema=schema,
                )
                return
            n = batch.num_rows
            yield pa.RecordBatch.from_arrays(
                [*batch.columns, constant(f.uri, n), arange(row, n), pa.nulls(n, pa.string())],
                schema=schema,
            )
            row += n
    finally:
        if temp is not None:
            temp.close()


def _unreadable(exc: BaseException) -> str:
    error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return Malformed.UNREADABLE_PARQUET.format(error=error)
