"""The rows every reader builds: the meta columns, column names, and batches of a bounded size.

Every row carries `_raw` (the record's text where the shape needs it, or a malformed record's
text), `_source_file`, `_source_line` (1-based) and `_malformed` (why the record could not be
split, NULL when it could); see sources/base.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from trackline.sources.base import InputFile
from trackline.sources.readers.encoding import visible

RAW_TEXT_LIMIT = 10_000  # characters of text kept in `_raw` for a whole-file failure

META_SCHEMA = pa.schema(
    [
        ("_raw", pa.string()),
        ("_source_file", pa.string()),
        ("_source_line", pa.int64()),
        ("_malformed", pa.string()),
    ]
)

# NDJSON and JSON rows: `_raw` as string views (NDJSON lines point into the block read)
LINES_SCHEMA = pa.schema([pa.field("_raw", pa.string_view()), *list(META_SCHEMA)[1:]])


def unique_names(names: Iterable[str], reserved: Iterable[str] = ()) -> list[str]:
    """Make column names usable: trimmed, `column_<i>` for an empty name, `<name>_<k>` for a
    repeat (or a name in `reserved`), counting k from 2."""
    taken = set(reserved)
    out: list[str] = []
    for i, raw in enumerate(names, start=1):
        name = raw.strip() or f"column_{i}"
        candidate, k = name, 2
        while candidate in taken:
            candidate, k = f"{name}_{k}", k + 1
        taken.add(candidate)
        out.append(candidate)
    return out


def constant(value: str, n: int) -> pa.Array:
    """A string column of n copies of `value`, built without a Python loop."""
    return pa.array([value], pa.string()).take(pa.nulls(n, pa.int32()).fill_null(0))


def arange(start: int, n: int) -> pa.Array:
    """int64 values start, start+1, ..., start+n-1, vectorised."""
    if n == 0:
        return pa.array([], pa.int64())
    return pc.add(pc.cumulative_sum(pa.nulls(n, pa.int64()).fill_null(1)), start - 1)


def meta_batch(
    f: InputFile, raw: Sequence[str | None], lines: Sequence[int], reasons: Sequence[str | None]
) -> pa.RecordBatch:
    """A json-shape batch from Python lists (malformed and JSON rows, not the hot path)."""
    return pa.RecordBatch.from_arrays(
        [
            pa.array(raw, pa.string_view()),
            constant(f.uri, len(raw)),
            pa.array(lines, pa.int64()),
            pa.array(reasons, pa.string()),
        ],
        schema=LINES_SCHEMA,
    )


def shorten(text: str) -> str:
    """A whole file's (or a long record's) text cut to what `_raw` keeps."""
    return visible(text[:RAW_TEXT_LIMIT])


def regroup(
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    batch_rows: int,
    close: Callable[[], None],
) -> Iterator[pa.RecordBatch]:
    """Regroup batches into `batch_rows` rows each (the last may be short); `close` at the end."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    try:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            pending.append(batch)
            rows += batch.num_rows
            while rows >= batch_rows:
                table = pa.Table.from_batches(pending, schema)
                yield _one_batch(table.slice(0, batch_rows), schema)
                pending = table.slice(batch_rows).to_batches()
                rows -= batch_rows
        if rows:
            yield _one_batch(pa.Table.from_batches(pending, schema), schema)
    finally:
        close()


def _one_batch(table: pa.Table, schema: pa.Schema) -> pa.RecordBatch:
    """One contiguous batch (copies only when the rows span several input batches)."""
    combined = table.combine_chunks()
    return pa.RecordBatch.from_arrays([c.chunk(0) for c in combined.columns], schema=schema)
