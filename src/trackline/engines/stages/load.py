"""Load: each input's checked batches through every sink, in one pass.

DuckDB's INSERT pulls the batches into the warehouse table (`WarehouseTable.load`); on their
way, each batch's rejected rows go to the rejected sink, its valid rows are marked to keep or
set aside as repeats (`Dedup`), and the kept rows go to the curated files. Nothing is staged,
so memory stays flat and no row is written twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from trackline.engines.sinks.curated import CuratedSink
from trackline.engines.sinks.rejected import RejectedRows
from trackline.engines.sinks.warehouse import WarehouseTable
from trackline.engines.stages.check import Checked
from trackline.engines.stages.read import FastReadMismatch
from trackline.engines.stages.settle import Dedup
from trackline.runs.manifest import Counts


@dataclass
class Sinks:
    """A run's sinks (the repeats sink sits behind `dedup`)."""

    rejected: RejectedRows
    curated: CuratedSink
    table: WarehouseTable
    dedup: Dedup

    def abort(self) -> None:
        self.curated.abort()
        self.rejected.abort()
        self.table.abort()
        self.dedup.repeats.abort()


def load(checked: Checked, sinks: Sinks, counts: Counts, advance: Callable[[int], object]) -> None:
    """Append an input's new valid rows to the table, its rejected rows to their sink.

    Repeated keys are decided on the way (`Dedup`), so nothing is ever deleted, and a key
    the warehouse held before this run is left out by the INSERT itself. `advance` is told
    the rows of each batch as it passes (progress).
    """
    source = checked.source
    sinks.curated.open(sinks.table.prepare(checked.derived_types))
    rows = 0
    mismatch: list[FastReadMismatch] = []  # raised inside DuckDB's scan, which would reword it

    def marked() -> Iterator[pa.RecordBatch]:
        """Each batch with `_keep` (the rows to load); the rejected rows and the repeated
        keys, which are few, copied out to their sinks."""
        nonlocal rows
        try:
            for batch in checked:
                rows += batch.num_rows
                counts.input += batch.num_rows
                advance(batch.num_rows)
                valid = pc.equal(pc.list_value_length(batch.column("_errors")), 0)
                if not pc.all(valid).as_py():
                    for done in checked.rejected(batch.filter(pc.invert(valid))):
                        sinks.rejected.write(done, source)
                keep = sinks.dedup.keep(batch, valid, source)
                out = batch.append_column("_keep", keep)
                sinks.curated.write(out, source)
                yield out
            for done in checked.rest():  # the input's last rejected rows
                sinks.rejected.write(done, source)
        except FastReadMismatch as exc:
            mismatch.append(exc)
            raise

    schema = checked.schema.append(pa.field("_keep", pa.bool_()))
    try:
        added = sinks.table.load(schema, marked(), source)
    except Exception:
        if mismatch:
            raise mismatch[0] from None
        raise
    checked.read.verify(rows)
    sinks.dedup.loaded(added)
