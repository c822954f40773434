"""Generated records into a file: NDJSON, a JSON array, CSV or Parquet, optionally gzipped.

NDJSON writes a malformed record as its broken text on its own line; CSV as a row with the
wrong number of columns. A JSON array and Parquet cannot hold broken text, so malformed
records are skipped there, and Parquet's typed columns cannot hold a `type` record either:
skipped records are reported in `GeneratedFile.skipped` and are not part of `count`.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from trackline.contracts.loader import ContractRegistry
from trackline.contracts.spec import Contract
from trackline.errors import UsageError
from trackline.generate.encode import ENCODE
from trackline.generate.labels import INVALID_KINDS, Labelled, Row
from trackline.generate.plan import WS
from trackline.generate.records import check_args, labelled_records
from trackline.sources.base import Format
from trackline.sources.files import EXTENSIONS  # one table of formats for readers and writers

CHUNK_ROWS = 10_000


@dataclass(frozen=True)
class GeneratedFile:
    """What `write` produced: `count == valid + sum(invalid_by_kind.values()) + duplicates`."""

    path: Path
    count: int
    valid: int
    invalid_by_kind: dict[str, int]
    duplicates: int
    format: Format
    compression: str | None = None
    skipped: dict[str, int] = field(default_factory=dict)


class _Tally:
    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()

    def add(self, items: Iterable[Labelled]) -> None:
        self.kinds.update(map(itemgetter(0), items))


def _chunks(items: Iterator[Labelled]) -> Iterator[list[Labelled]]:
    while chunk := list(islice(items, CHUNK_ROWS)):
        yield chunk


def _writable(chunk: list[Labelled], tally: _Tally, skip: Iterable[str] = ()) -> list[Row]:
    """The chunk's records but malformed text (and kinds in `skip`): what the format holds."""
    keep: list[Row] = []
    for it in chunk:
        if isinstance(it.record, str) or it.kind in skip:
            tally.skipped[it.kind] += 1
        else:
            tally.kinds[it.kind] += 1
            keep.append(it.record)
    return keep


def _ndjson(
    contract: Contract, items: Iterator[Labelled], out: io.BufferedIOBase, tally: _Tally
) -> None:
    encode = ENCODE
    for chunk in _chunks(items):
        tally.add(chunk)
        lines = [r if isinstance(r := it.record, str) else encode(r) for it in chunk]
        out.write(("\n".join(lines) + "\n").encode())


def _json(
    contract: Contract, items: Iterator[Labelled], out: io.BufferedIOBase, tally: _Tally
) -> None:
    sep = "[\n"
    for chunk in _chunks(items):
        keep = _writable(chunk, tally)
        if keep:
            out.write((sep + ",\n".join(map(ENCODE, keep))).encode())
            sep = ",\n"
    out.write(b"[]\n" if sep == "[\n" else b"\n]\n")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _csv(
    contract: Contract, items: Iterator[Labelled], out: io.BufferedIOBase, tally: _Tally
) -> None:
    names = list(contract.fields)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")

    def flush() -> None:
        out.write(buf.getvalue().encode())
        buf.seek(0)
        buf.truncate()

    writer.writerow(names)
    flush()
    for chunk in _chunks(items):
        tally.add(chunk)
        for it in chunk:
            if isinstance(it.record, str):  # a torn row: a column too few or one too many
                cells = [_cell((it.base or {}).get(n)) for n in names]
                cells = cells[:-1] if len(cells) > 1 and len(it.record) % 2 else [*cells, "?"]
            else:
                cells = [_cell(it.record.get(n)) for n in names]
            writer.writerow(cells)
        flush()


ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}


def _column(values: list[Any], kind: str) -> pa.Array:
    """One typed column; a blank string in a non-string column is a null (still `required`)."""
    if kind == "string":
        return pa.array(values, pa.string())
    values = [None if isinstance(v, str) and not v.strip(WS) else v for v in values]
    if kind in ("timestamp", "date"):
        return pa.array(values, pa.string()).cast(ARROW_TYPES[kind])
    return pa.array(values, ARROW_TYPES[kind])


def _parquet(
    contract: Contract, items: Iterator[Labelled], out: io.BufferedIOBase, tally: _Tally
) -> None:
    fs = contract.fields
    schema = pa.schema([(n, ARROW_TYPES[f.type]) for n, f in fs.items()])
    with pq.ParquetWriter(out, schema) as writer:
        for chunk in _chunks(items):
            rows = _writable(chunk, tally, skip=("type",))
            if rows:
                cols = [_column([r.get(n) for r in rows], f.type) for n, f in fs.items()]
                writer.write_table(pa.Table.from_arrays(cols, schema=schema))


Writer = Callable[[Contract, Iterator[Labelled], io.BufferedIOBase, _Tally], None]
WRITERS: dict[Format, Writer] = {
    "ndjson": _ndjson,
    "json": _json,
    "csv": _csv,
    "parquet": _parquet,
}


def output_format(path: Path) -> tuple[Format, str | None]:
    """The format and compression an output path asks for, from its extension."""
    name = path.name.lower()
    compression = "gzip" if name.endswith(".gz") else None
    stem = name.removesuffix(".gz")
    for suffix, fmt in EXTENSIONS.items():
        if stem.endswith(suffix):
            return fmt, compression
    raise UsageError(
        f"cannot tell the format of {path.name!r}: end the name with one of "
        f"{', '.join(EXTENSIONS)}, optionally followed by .gz"
    )


def write(
    dataset: str,
    count: int,
    out: str | Path,
    *,
    invalid_share: float = 0.0,
    seed: int = 0,
    now: datetime | None = None,
    contracts: ContractRegistry | None = None,
) -> GeneratedFile:
    """Generate `count` records of `dataset` into `out`, in the format its extension names.

    The file appears whole or not at all (written beside it, then renamed), and is
    byte-identical for the same arguments (gzip without a timestamp).
    """
    check_args(count, invalid_share)
    path = Path(out)
    fmt, compression = output_format(path)
    contract = (contracts or ContractRegistry()).get(dataset)
    items = labelled_records(contract, count, invalid_share=invalid_share, seed=seed, now=now)
    tally = _Tally()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with ExitStack() as stack:
            sink: io.BufferedIOBase = stack.enter_context(tmp.open("wb"))
            if compression:
                gz = gzip.GzipFile(filename="", mode="wb", fileobj=sink, mtime=0, compresslevel=6)
                sink = stack.enter_context(gz)
            WRITERS[fmt](contract, items, sink, tally)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    kinds = tally.kinds
    return GeneratedFile(
        path=path,
        count=sum(kinds.values()),
        valid=kinds["valid"],
        invalid_by_kind={k: kinds[k] for k in INVALID_KINDS if kinds[k] and k != "duplicate"},
        duplicates=kinds["duplicate"],
        format=fmt,
        compression=compression,
        skipped=dict(tally.skipped),
    )
