"""CSV: one row per record, every field a string, parsed by pyarrow.

columns shape. An empty field (quoted or not) is NULL, i.e. missing; nothing else (`NA`,
`null`) is. `_source_line` is the record number plus the lines the header took, so it is the
physical line unless a quoted field spans lines or blank lines were skipped. The first non-blank
line is the header; names are trimmed, and an empty, repeated or reserved (`_raw`...) name gets a
suffix (see `unique_names`). A malformed row (wrong column count, bad encoding) has every field
NULL and its text in `_raw`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from trackline.contracts.reasons import Malformed
from trackline.sources.base import InputFile
from trackline.sources.readers.encoding import BAD_ENCODING, SENTINEL, Utf8Stream, visible
from trackline.sources.readers.rows import META_SCHEMA, arange, constant, shorten, unique_names
from trackline.sources.readers.stream import ByteStream


def read(
    stream: ByteStream, *, batch_rows: int, block_bytes: int
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """Read the header here (the schema needs it) and stream the records with pyarrow."""
    header_lines, header = _read_header(stream)
    names = unique_names(header, reserved=META_SCHEMA.names)
    schema = pa.schema([(n, pa.string()) for n in names] + list(META_SCHEMA))
    return schema, _records(stream, schema, names, header_lines, block_bytes)


def _read_header(stream: ByteStream) -> tuple[int, list[str]]:
    """The header fields and how many physical lines they took (leading blank lines too)."""
    lines = 0
    text = ""
    while not text.strip():
        raw = stream.readline()
        if not raw:
            return lines, []
        lines += 1
        text = raw.decode("utf-8", "replace")
        if lines == 1:
            text = text.removeprefix("\ufeff")
    while text.count('"') % 2 and (more := stream.readline()):  # a quoted name spans lines
        lines += 1
        text += more.decode("utf-8", "replace")
    return lines, next(csv.reader(io.StringIO(text, newline="")), [])


def _records(
    stream: ByteStream, schema: pa.Schema, names: list[str], header_lines: int, block_bytes: int
) -> Iterator[pa.RecordBatch]:
    f = stream.file
    width = len(names)
    done = 0  # records (good or bad) numbered so far
    if width and stream.has_data():  # pyarrow rejects a stream without records
        bad_rows: list[tuple[int | None, str, int]] = []  # (record number, text, fields)

        def on_invalid(row: Any) -> str:
            bad_rows.append(
                (
                    row.number if row.number and row.number > 0 else None,
                    row.text,
                    row.actual_columns,
                )
            )
            return "skip"

        utf8 = Utf8Stream(stream)
        try:
            reader = pcsv.open_csv(
                pa.PythonFile(utf8, mode="r"),
                read_options=pcsv.ReadOptions(
                    column_names=names, use_threads=False, block_size=max(block_bytes, 1 << 20)
                ),
                parse_options=pcsv.ParseOptions(
                    newlines_in_values=True, invalid_row_handler=on_invalid
                ),
                convert_options=pcsv.ConvertOptions(
                    column_types={n: pa.string() for n in names},
                    strings_can_be_null=True,
                    null_values=[""],
                    quoted_strings_can_be_null=True,
                ),
            )
            for batch in reader:
                good = batch.num_rows
                ours = _claim(bad_rows, done, good)
                numbers = _record_numbers(done, good, [b[0] for b in ours])
                done += good + len(ours)
                lines = pc.add(numbers, header_lines)
                parts = [*_good(f, schema, batch, lines, utf8.saw_bad)]
                parts += _bad(f, schema, ours, width, header_lines)
                yield from _in_line_order(schema, parts)
        except pa.ArrowException as exc:  # e.g. a row larger than a block: report, stop
            ours = _claim(bad_rows, done, None)
            yield from _bad(f, schema, ours, width, header_lines)
            done = max([done + len(ours), *(n or 0 for n, _, _ in ours)])
            yield _malformed_rows(
                f,
                schema,
                [""],
                [header_lines + done + 1],
                [Malformed.UNREADABLE_CSV.format(error=str(exc).splitlines()[0])],
            )
            done += 1
        else:
            yield from _bad(f, schema, _claim(bad_rows, done, None), width, header_lines)
    if stream.gzip_error:
        yield _malformed_rows(f, schema, [""], [header_lines + done + 1], [stream.gzip_error])


def _in_line_order(schema: pa.Schema, parts: list[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Merge a window's good and malformed rows by line (only sorts when there are both)."""
    parts = [p for p in parts if p.num_rows]
    if len(parts) <= 1:
        yield from parts
        return
    yield from pa.Table.from_batches(parts, schema).sort_by("_source_line").to_batches()


def _claim(
    bad_rows: list[tuple[int | None, str, int]], done: int, good: int | None
) -> list[tuple[int | None, str, int]]:
    """Take the invalid rows that fall among the next `good` parsed rows (all when None).

    pyarrow parses one block ahead, so the handler may already have seen rows of the next
    batch; their record numbers (increasing, as parsing is serial) tell where they belong.
    """
    k = len(bad_rows)
    if good is not None:
        k = 0
        while k < len(bad_rows):
            number = bad_rows[k][0]
            if number is not None and number > done + good + k + 1:
                break
            k += 1
    ours = bad_rows[:k]
    del bad_rows[:k]
    return ours


def _record_numbers(done: int, good: int, bad: list[int | None]) -> pa.Array:
    """Record numbers of the good rows in a window that also holds the `bad` ones."""
    numbers = arange(done + 1, good + len(bad))
    known = [b for b in bad if b is not None]
    if known:
        numbers = numbers.filter(pc.invert(pc.is_in(numbers, pa.array(known, pa.int64()))))
    return numbers.slice(0, good)


def _good(
    f: InputFile, schema: pa.Schema, batch: pa.RecordBatch, lines: pa.Array, check_encoding: bool
) -> Iterator[pa.RecordBatch]:
    """Parsed rows as a columns-shape batch; rows holding undecodable bytes become malformed."""
    columns = list(batch.columns)
    if check_encoding and columns:
        bad = pc.fill_null(pc.match_substring(columns[0], SENTINEL), False)
        for column in columns[1:]:
            bad = pc.or_(bad, pc.fill_null(pc.match_substring(column, SENTINEL), False))
        if pc.any(bad).as_py():
            rows = batch.filter(bad).to_pylist()
            yield _malformed_rows(
                f,
                schema,
                [_text(list(r.values())) for r in rows],
                lines.filter(bad).to_pylist(),
                [BAD_ENCODING] * len(rows),
            )
            keep = pc.invert(bad)
            batch, lines = batch.filter(keep), lines.filter(keep)
            columns = list(batch.columns)
    n = batch.num_rows
    yield pa.RecordBatch.from_arrays(
        [*columns, pa.nulls(n, pa.string()), constant(f.uri, n), lines, pa.nulls(n, pa.string())],
        schema=schema,
    )


def _bad(
    f: InputFile,
    schema: pa.Schema,
    rows: list[tuple[int | None, str, int]],
    width: int,
    header_lines: int,
) -> Iterator[pa.RecordBatch]:
    if rows:
        yield _malformed_rows(
            f,
            schema,
            [shorten(text) for _, text, _ in rows],
            [header_lines + n if n is not None else None for n, _, _ in rows],
            [Malformed.COLUMN_COUNT.format(expected=width, got=got) for _, _, got in rows],
        )


def _malformed_rows(
    f: InputFile,
    schema: pa.Schema,
    raw: Sequence[str],
    lines: Sequence[int | None],
    reasons: Sequence[str],
) -> pa.RecordBatch:
    """Malformed CSV rows: every field NULL, the text in `_raw`."""
    n = len(raw)
    fields = [pa.nulls(n, pa.string()) for _ in range(len(schema) - len(META_SCHEMA))]
    return pa.RecordBatch.from_arrays(
        [
            *fields,
            pa.array(raw, pa.string()),
            constant(f.uri, n),
            pa.array(lines, pa.int64()),
            pa.array(reasons, pa.string()),
        ],
        schema=schema,
    )


def _text(values: list[str | None]) -> str:
    """A parsed row written back as CSV (its original quoting is not kept)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(["" if v is None else v for v in values])
    return visible(out.getvalue())
