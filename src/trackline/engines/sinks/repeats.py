"""Rows set aside as possible repeats: their key's hash was seen earlier in the run.

A hash is not the key, so these rows are only suspects until the run settles them by exact key
(`stages.settle`). They wait in a temporary Parquet file, so memory stays flat however many
repeats an input holds.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from trackline.lake import StoredFile


class Repeats:
    """A `Sink` for suspect rows: the table's `columns` (`_source_file` filled in from each
    batch's source) and `_order`, their position in the run's stream."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns
        self.rows = 0
        self._file: Any = None
        self._writer: pq.ParquetWriter | None = None

    def write(self, rows: pa.RecordBatch, source: str) -> None:
        names = [*self.columns, "_order"]
        path = pa.repeat(pa.scalar(source, pa.string()), rows.num_rows)
        out = pa.RecordBatch.from_arrays(
            [path if c == "_source_file" else rows.column(c) for c in names], names=names
        )
        if self._writer is None:
            self._file = tempfile.TemporaryFile(prefix="trackline-repeats-")  # noqa: SIM115
            self._writer = pq.ParquetWriter(self._file, out.schema)
        self._writer.write_batch(out)
        self.rows += rows.num_rows

    def finish(self) -> list[StoredFile]:
        """Done writing; the rows stay until `abort` (a temporary file: nothing stored)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        return []

    @contextmanager
    def read(self) -> Iterator[pa.RecordBatchReader | None]:
        """The rows set aside (None if there are none)."""
        self.finish()
        if self._file is None:
            yield None
            return
        self._file.seek(0)
        pf = pq.ParquetFile(self._file)
        yield pa.RecordBatchReader.from_batches(pf.schema_arrow, pf.iter_batches())

    def abort(self) -> None:
        """Drop the rows (the temporary file goes)."""
        self.finish()
        if self._file is not None:
            self._file.close()
            self._file = None
