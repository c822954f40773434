"""Check: the contract's kernel over each input's batches, a few batches ahead on its own threads.

The checked stream carries each row's key hash (for dedup) and partition values (for the
curated files), and not the source path: every row of a file has the same one, and it joins
the rows only where they are written (carrying a column of a million copies of the path
through the kernel costs more than the join).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from trackline.contracts.kernel import Kernel
from trackline.contracts.spec import Contract
from trackline.core import duck
from trackline.core.dialect import ident
from trackline.core.prefetch import Prefetcher, prefetch
from trackline.engines.sinks.curated import partition_alias, partition_exprs
from trackline.engines.stages.read import (
    FastReadMismatch,
    FileRead,
    RejectedText,
    lead_bytes,
    may_read_fast,
    reads_fast,
)
from trackline.sources.base import InputFile
from trackline.sources.files import LINES_SCHEMA, read_batches
from trackline.sources.readers.ndjson_fast import LineScan


def key_hash(contract: Contract) -> str:
    """SQL for a row's 64-bit key hash (only a hint: repeats are confirmed by exact key)."""
    return f"hash({', '.join(ident(k) for k in contract.key_columns)})"


@dataclass
class Checked:
    """One input's checked batches as the kernel produces them: the kernel's columns, then
    `_key_hash` and the partition values (`partition_alias`)."""

    read: FileRead
    derived_types: dict[str, str]  # the derived columns' DuckDB types, for the table
    schema: pa.Schema
    batches: Prefetcher[pa.RecordBatch]
    text: RejectedText | None = None  # a fast read's: completes its rejected rows

    @property
    def source(self) -> str:
        return self.read.file.uri

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            yield from self.batches
        except duckdb.Error as exc:
            if not self.read.fast:
                raise
            # DuckDB failing to read the file (rather than a line of it): the general reader
            raise FastReadMismatch(f"DuckDB could not read the file: {exc}") from None

    def rejected(self, bad: pa.RecordBatch) -> list[pa.RecordBatch]:
        """Rejected rows ready for their sink (a fast read's, once their text is read)."""
        return [bad] if self.text is None else self.text.add(bad)

    def rest(self) -> list[pa.RecordBatch]:
        """At the end of the input: the rejected rows still waiting for their text."""
        return [] if self.text is None else self.text.flush()


@contextmanager
def checking(
    kernel: Kernel, read: FileRead, now: datetime, batch_rows: int, *, lead_bytes: int = 0
) -> Iterator[Checked]:
    """Start checking an input: from the moment this is entered, the kernel produces its
    output a few batches ahead (or, with `lead_bytes`, until that much is queued, until
    `batches.end_lead()`)."""
    contract = kernel.contract
    reader = None if read.fast else read_batches(read.file, batch_rows)
    kernel_schema = _without_source(LINES_SCHEMA if reader is None else reader.schema)
    program = kernel.file_program(read.file.uri) if read.fast else kernel.compile(kernel_schema)
    kcon = kernel.connection
    parts = "".join(
        f", {expr} AS {partition_alias(i)}"
        for i, expr in enumerate(partition_exprs(contract, in_stream=True))
    )
    sql = (
        f"SELECT * EXCLUDE (_source_file), {key_hash(contract)} AS _key_hash{parts} "
        f"FROM ({program.sql})"
    )
    if reader is not None:
        inputs = (_without_source(batch) for batch in reader)
        kcon.register("input", pa.RecordBatchReader.from_batches(kernel_schema, prefetch(inputs)))
    try:
        types: dict[str, str] = {}  # the derived columns' for the table (no second bind)
        with (
            duck.stream(kcon, sql, {"now": now}, batch_rows, types=types) as stream,
            Prefetcher(stream, lead_bytes=lead_bytes) as batches,
        ):
            derived = {name: types[name] for name in contract.derived}
            yield Checked(read, derived, stream.schema, batches)
    finally:
        if reader is not None:
            kcon.unregister("input")


class CheckedFiles:
    """Each input's checked batches in turn, the first one started early.

    The run id needs every input's hash; the kernel does not. So `start` sets the first file
    checking while the inputs hash, on the fast read if it may take it (checking ahead into a
    share of memory, `read.lead_bytes`). Once `hashed` gives each file's line scan, a first
    file that does not read the same both ways starts again on its format's reader (nothing of
    it was loaded yet), and every other file takes the read its scan allows. One file's
    stream is closed before the next one opens: the kernel runs one query at a time.
    """

    def __init__(
        self, kernel: Kernel, files: list[InputFile], *, now: datetime, batch_rows: int, fast: bool
    ) -> None:
        self.kernel, self.files, self.now, self.batch_rows = kernel, files, now, batch_rows
        self.fast = fast and kernel.reads_files
        self.scans: list[LineScan | None] = [None] * len(files)
        self._first = ExitStack()  # the first file's checking, closed once that file is loaded
        self._started: Checked | None = None

    def start(self) -> None:
        fast = self.fast and may_read_fast(self.files[0])
        self._started = self._first.enter_context(
            checking(
                self.kernel,
                FileRead(self.files[0], fast),
                self.now,
                self.batch_rows,
                lead_bytes=lead_bytes(self.kernel) if fast else 0,
            )
        )

    def hashed(self, scans: list[LineScan | None]) -> None:
        """The hash pass is done: its line scans (closed with this), and the lead ends."""
        self.scans = scans
        if self._started is not None:
            self._started.batches.end_lead()

    def each(self) -> Generator[Checked]:
        """The inputs' checks, one at a time (close the generator to stop early)."""
        if self._started is None:
            self.start()
        started = self._started
        assert started is not None
        with self._first:
            restart = started.read.fast and not reads_fast(self.scans[0])
            if not restart:
                with self._text(started, self.scans[0]):
                    yield started
        if restart:
            with checking(self.kernel, FileRead(self.files[0]), self.now, self.batch_rows) as c:
                yield c
        for f, scan in zip(self.files[1:], self.scans[1:], strict=True):
            read = FileRead(f, reads_fast(scan), scan)
            with checking(self.kernel, read, self.now, self.batch_rows) as c, self._text(c, scan):
                yield c

    @contextmanager
    def _text(self, checked: Checked, scan: LineScan | None) -> Iterator[None]:
        """A fast read's rejected rows get their text from the file's line scan."""
        if not checked.read.fast or scan is None:
            yield
            return
        checked.read.scan = scan
        checked.text = RejectedText(checked.source, scan, self.kernel, self.now)
        try:
            yield
        finally:
            checked.text.close()

    def close(self) -> None:
        """Stop a check still running (before the kernel closes: it reads from the kernel's
        connection); the line scans' spools go."""
        self._first.close()
        for scan in self.scans:
            if scan is not None:
                scan.close()


def _without_source(data: Any) -> Any:
    """A reader's schema or batch without its `_source_file` column (see the module's doc)."""
    if isinstance(data, pa.Schema):
        i = data.get_field_index("_source_file")
        return data if i < 0 else data.remove(i)
    return data.drop_columns(["_source_file"]) if "_source_file" in data.schema.names else data
