"""After the pipeline: its staged files into the warehouse and the lake, in the run's transaction.

The pipeline staged the valid rows, the first row of each key by file and line (`_file`,
`_source_line`, with `_copies`, how many valid rows had it) and the rejected rows. Here, as in
the local engine, a key an earlier run loaded makes every copy a warehouse duplicate; the other
keys are loaded, their other copies are duplicates in the input. The rejected rows go to the
run's one rejected file (in file and line order, through the local engine's sink) and into
`meta.rejected`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from trackline.contracts.kernel import Kernel
from trackline.contracts.spec import Contract
from trackline.core.dialect import ident
from trackline.engines.beam.dofns import COPIES, FILE_INDEX
from trackline.engines.sinks.rejected import RejectedRows
from trackline.engines.sinks.warehouse import LINEAGE, RunWarehouse, same_key
from trackline.errors import TracklineError
from trackline.runs.manifest import Counts


class StagingError(TracklineError):
    """A file the pipeline listed is missing: the run is not loaded."""


@dataclass
class Staged:
    """The files one pipeline run listed, by kind."""

    valid: list[str] = field(default_factory=list)
    first: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, listed: list[dict[str, Any]], fs: Any) -> Staged:
        staged = cls()
        for entry in listed:
            kind, uri, rows = entry["kind"], entry["uri"], int(entry["rows"])
            if not fs.exists(_path(uri)):  # a writer can say it is done and leave nothing
                raise StagingError(f"the pipeline listed {uri} but it is not there: run again")
            getattr(staged, kind).append(uri)
            staged.rows[kind] = staged.rows.get(kind, 0) + rows
        return staged


def derived_types(contract: Contract, kernel: Kernel) -> dict[str, str]:
    """The DuckDB types of the contract's derived columns (the table needs them even when no
    row is valid): the kernel's program described over an empty input."""
    con = kernel.connection
    program = kernel.compile(pa.schema([("_raw", pa.string())]))
    con.register("input", pa.table({"_raw": pa.array([], pa.string())}))
    try:
        described = con.execute(f"DESCRIBE {program.sql}", {"now": datetime.now()}).fetchall()
    finally:
        con.unregister("input")
    types = {str(r[0]): str(r[1]) for r in described}
    return {name: types[name] for name in contract.derived}


def load_valid(
    wh: RunWarehouse,
    contract: Contract,
    staged: Staged,
    fs: Any,
    *,
    run_id: str,
    now: datetime,
    counts: Counts,
) -> None:
    """Append the staged keys an earlier run did not load; fill in valid and duplicates."""
    con = wh.con
    table = f"main.{ident(contract.name)}"
    cols = [*contract.output_columns, *LINEAGE]
    names = ", ".join(ident(c) for c in cols)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _staged AS "
        f"SELECT {names}, CAST(0 AS BIGINT) AS {COPIES} FROM {table} LIMIT 0"
    )
    if staged.valid:
        # the first row of each key (the pipeline's dedup) picked by file and line
        con.register("first_rows", _reader(staged.first, fs).read_all())
        con.register("staged_rows", _reader(staged.valid, fs))
        try:
            joined = con.execute(
                f"INSERT INTO _staged SELECT {', '.join('v.' + ident(c) for c in cols)}, "
                f"f.{COPIES} FROM staged_rows v JOIN first_rows f "
                f"ON v.{FILE_INDEX} = f.{FILE_INDEX} AND v._source_line = f._source_line"
            ).fetchone()
            found, listed = int(joined[0]) if joined else 0, staged.rows.get("first", 0)
            if found != listed:  # each first row is one staged valid row: a read went wrong
                raise StagingError(
                    f"the pipeline staged {listed} first rows but {found} were read back: "
                    "nothing loaded, run again"
                )
        finally:
            con.unregister("staged_rows")
            con.unregister("first_rows")
    match = same_key(contract.key_columns, "o", "s")
    known = f"EXISTS (SELECT 1 FROM {table} o WHERE o.run_id <> $run_id AND {match})"
    row = con.execute(
        f"INSERT INTO {table} ({names}, ingestion_time, run_id) "
        f"SELECT {names}, $now, $run_id FROM _staged s WHERE NOT {known}",
        {"now": now, "run_id": run_id},
    ).fetchone()
    inserted = int(row[0]) if row else 0
    if inserted:  # a BigQuery warehouse finds the keys it holds only now (none for DuckDB)
        inserted -= wh.mark_held(contract, run_id, "true", {})
    # every copy of a key this run did not load is a warehouse duplicate; the other copies
    # of the keys it loaded are duplicates in the input
    mine = f"EXISTS (SELECT 1 FROM {table} o WHERE o.run_id = $run_id AND {match})"
    row = con.execute(
        f"SELECT coalesce(sum({COPIES}), 0), coalesce(sum({COPIES}) FILTER (WHERE NOT {mine}), 0) "
        "FROM _staged s",
        {"run_id": run_id},
    ).fetchone()
    copies, in_warehouse = (int(v) for v in row) if row else (0, 0)
    con.execute("DROP TABLE _staged")
    counts.valid = inserted
    counts.duplicates_in_warehouse = in_warehouse
    counts.duplicates_in_input = copies - in_warehouse - inserted
    counts.duplicates = counts.duplicates_in_input + counts.duplicates_in_warehouse


def write_rejected(sink: RejectedRows, staged: Staged, fs: Any) -> None:
    """The staged rejected rows into the run's rejected file, in file and line order."""
    if not staged.rejected:
        return
    rows = _reader(staged.rejected, fs).read_all()
    rows = rows.sort_by([(FILE_INDEX, "ascending"), ("source_line", "ascending")])
    for source in pc.unique(rows["source_file"]).to_pylist():
        part = rows.filter(pc.equal(rows["source_file"], source))
        for batch in part.to_batches():
            sink.write(
                pa.RecordBatch.from_arrays(
                    [batch.column(n) for n in ("record", "reasons", "detail", "source_line")],
                    names=["_record", "_errors", "_detail", "_source_line"],
                ),
                source,
            )


def _reader(uris: list[str], fs: Any) -> pa.RecordBatchReader:
    """The staged files as one stream, under one schema (a file's NULL-only column is
    widened to the others' type)."""
    paths = [_path(u) for u in uris]
    schema = pa.unify_schemas(
        [pq.read_schema(p, filesystem=fs) for p in paths], promote_options="permissive"
    )
    dataset = pads.dataset(paths, schema=schema, filesystem=fs, format="parquet")
    return dataset.scanner(batch_size=65_536).to_reader()


def _path(uri: str) -> str:
    """A staged URI as a path of its filesystem."""
    return uri.split("://", 1)[1] if "://" in uri else uri
