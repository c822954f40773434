"""Read: how each input reaches the kernel, a format's reader or DuckDB's own fast read.

Every file but one kind takes its format's reader (`sources.readers`), which hands the kernel
Arrow batches. A plain local NDJSON file may instead be read by DuckDB inside the kernel
(`sources.readers.ndjson_fast`): `FileRead` says which, once the hash pass has said whether
the file reads the same both ways. The fast read gives rejected rows without their text, so
`RejectedText` completes them; wherever the two reads could still disagree it raises
`FastReadMismatch`, and the engine reads the whole input again the general way (nothing was
committed yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trackline.contracts.kernel import UNPARSED, Kernel
from trackline.core import duck
from trackline.sources.base import InputFile
from trackline.sources.readers import ndjson_fast
from trackline.sources.readers.ndjson_fast import LinePicker, LineScan

# Rejected rows of a fast read gathered before their text is read and checked: each round
# costs a query, so several batches' rows go together.
REJECTED_BATCH_ROWS = 16_384
# While the inputs hash, the fast read's kernel may check the first file ahead into this share
# of the memory limit (192 MB of the default 512): otherwise one core sits idle during the hash.
HEAD_LEAD_SHARE = 0.375


class FastReadMismatch(Exception):
    """A fast read turned out not to match the general reader: read the run again."""


@dataclass
class FileRead:
    """One input and how it is read: `fast`, by DuckDB inside the kernel (then `scan` holds
    its lines, once hashed), or by its format's reader."""

    file: InputFile
    fast: bool = False
    scan: LineScan | None = None

    def verify(self, rows: int) -> None:
        """A fast read must give one row a line."""
        if self.fast and self.scan is not None and rows != self.scan.lines:
            raise FastReadMismatch(f"{rows} rows read from {self.scan.lines} lines")


def may_read_fast(f: InputFile) -> bool:
    """Whether a file may start on the fast read before its hash pass has looked at it."""
    return ndjson_fast.eligible(f)


def reads_fast(scan: LineScan | None) -> bool:
    """Whether the hash pass found a file that reads the same both ways."""
    return scan is not None and scan.fast


def lead_bytes(kernel: Kernel) -> int:
    """How far the fast read's kernel may check ahead while the inputs hash.

    Only the fast read gets a lead: its kernel (one thread) is the slowest stage, so the load
    drains the lead soon after the hash. The general read's kernel runs on every core and
    is not; a lead there lasted into the load and raised peak memory.
    """
    return int(HEAD_LEAD_SHARE * duck.memory_limit(kernel.connection)[1])


class RejectedText:
    """Completes the rejected rows of a file read by DuckDB (`Kernel.file_program`): each
    one's text as received, and for a line DuckDB could not parse, the general kernel's
    reasons for it (malformed, not an object, or an object with none of the fields)."""

    def __init__(self, uri: str, scan: LineScan, kernel: Kernel, now: datetime) -> None:
        self.picker = LinePicker(uri, scan)
        self.contract, self.tolerance, self.now = kernel.contract, kernel.tolerance, now
        self._kernel: Kernel | None = None
        self._pending: list[pa.RecordBatch] = []
        self._rows = 0

    def add(self, bad: pa.RecordBatch) -> list[pa.RecordBatch]:
        """Take a batch's rejected rows; the completed ones come back once
        `REJECTED_BATCH_ROWS` have gathered."""
        self._pending.append(bad)
        self._rows += bad.num_rows
        return self.flush() if self._rows >= REJECTED_BATCH_ROWS else []

    def flush(self) -> list[pa.RecordBatch]:
        """The rows still gathered, completed (at the end of the file)."""
        if not self._pending:
            return []
        rows = pa.Table.from_batches(self._pending).combine_chunks()
        self._pending, self._rows = [], 0
        return [self._complete(b) for b in rows.to_batches()]

    def _complete(self, bad: pa.RecordBatch) -> pa.RecordBatch:
        lines = bad.column("_source_line").to_numpy(zero_copy_only=False)
        try:
            texts, malformed = self.picker.take(lines)
        except LookupError as exc:
            raise FastReadMismatch(str(exc)) from None
        errors = bad.column("_errors")
        detail = bad.column("_detail")
        unparsed = pc.fill_null(pc.equal(detail, UNPARSED), False)
        if (
            malformed.null_count < len(malformed)
            and pc.any(pc.and_(pc.is_valid(malformed), pc.invert(unparsed))).as_py()
        ):
            raise FastReadMismatch("a line DuckDB parsed is not UTF-8")
        again = np.flatnonzero(unparsed.to_numpy(zero_copy_only=False))
        if len(again):
            errors, detail = self._unparsed(texts, malformed, errors, detail, unparsed, again)
        names = bad.schema.names
        columns = list(bad.columns)
        columns[names.index("_record")] = texts
        columns[names.index("_errors")] = errors
        columns[names.index("_detail")] = detail
        return pa.RecordBatch.from_arrays(columns, schema=bad.schema)

    def _unparsed(
        self,
        texts: pa.Array,
        malformed: pa.Array,
        errors: pa.Array,
        detail: pa.Array,
        unparsed: pa.Array,
        again: np.ndarray,
    ) -> tuple[pa.Array, pa.Array]:
        """The reasons and detail of the lines DuckDB could not parse (`again`), put in place.

        Almost always malformed: one small query says why. A JSON object with none of the
        fields (rare) goes through the whole program, for its exact reasons.
        """
        raw = texts.take(again)
        problems = self.kernel.json_problems(raw, malformed.take(again)).to_pylist()
        reasons: list[list[str] | None] = [["malformed"] if p else None for p in problems]
        details: list[str | None] = list(problems)
        objects = [j for j, p in enumerate(problems) if p is None]
        if objects:
            result = self.kernel.run(
                pa.table({"_raw": raw.take(objects)}), now=self.now, dedup=False
            )
            if result.valid.num_rows:
                raise FastReadMismatch("a line DuckDB could not parse is a valid record")
            for j, r, d in zip(
                objects,
                result.rejected.column("reasons").to_pylist(),
                result.rejected.column("detail").to_pylist(),
                strict=True,
            ):
                reasons[j], details[j] = r, d
        # spread over the batch's rows (null elsewhere), then take those rows' values
        where = np.full(len(texts), -1, np.int64)
        where[again] = np.arange(len(again))
        at = pa.array(where, mask=where < 0)
        new_errors = pa.array(reasons, errors.type).take(at)
        new_detail = pa.array(details, pa.string()).take(at)
        return (
            pc.if_else(unparsed, new_errors, errors),
            pc.if_else(unparsed, new_detail, detail),
        )

    @property
    def kernel(self) -> Kernel:
        """A one-thread kernel of its own: the run's kernel is busy streaming the file."""
        if self._kernel is None:
            self._kernel = Kernel(self.contract, future_tolerance_seconds=self.tolerance, threads=1)
        return self._kernel

    def close(self) -> None:
        self.picker.close()
        if self._kernel is not None:
            self._kernel.close()
