"""Settle: each key once, the first occurrence by file and line.

Repeats are decided while rows stream into the table (`Dedup.keep`), so the load never
deletes: a row whose key hash is new to the run is kept, one whose hash was seen is set aside
(`sinks.repeats`). After the load, `settle` decides the set-aside rows by exact key and fills in
the run's counts.
"""

from __future__ import annotations

import logging
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa

from trackline.contracts.spec import Contract
from trackline.core.dialect import ident
from trackline.engines.keys import SeenKeys
from trackline.engines.sinks.repeats import Repeats
from trackline.engines.sinks.warehouse import LINEAGE, same_key
from trackline.runs.manifest import Counts

log = logging.getLogger("trackline.engine")


class Dedup:
    """First-occurrence dedup of a run's valid rows while they stream into the table.

    `keep` marks the rows whose key hash is new to the run and sends those whose hash was seen
    to `repeats`. It also checks that rows arrive in file and line order (DuckDB keeps it);
    if not, every valid row is loaded and `settle` drops repeats by file and line instead.
    """

    def __init__(self, contract: Contract, repeats: Repeats) -> None:
        self.repeats = repeats
        self.seen = SeenKeys()
        self.kept = self.inserted = self.late = 0
        self.ordered = True
        self._columns = [c for c in (*contract.output_columns, *LINEAGE) if c != "_source_file"]
        self._position = 0  # stream order across all files: file order, then line
        self._last: tuple[str, int] = ("", 0)

    def keep(self, batch: pa.RecordBatch, valid: pa.Array, source: str) -> pa.Array:
        """Which rows to load: the valid ones whose key is new (all valid ones once the
        stream was seen out of order)."""
        n = batch.num_rows
        valid_np = valid.to_numpy(zero_copy_only=False)
        if self.ordered:
            self._check_order(batch, source)
        if not self.ordered:
            self.kept += int(valid_np.sum())
            return valid
        rows = np.flatnonzero(valid_np)
        hashes = batch.column("_key_hash").to_numpy()[rows]
        first = self.seen.first(hashes)
        keep = np.zeros(n, bool)
        keep[rows[first]] = True
        repeats = rows[~first]
        if len(repeats):
            taken = batch.select(self._columns).take(repeats)
            order = pa.array(repeats + self._position, pa.int64())
            self.repeats.write(taken.append_column("_order", order), source)
        self.kept += int(first.sum())
        self._position += n
        return pa.array(keep)

    def _check_order(self, batch: pa.RecordBatch, name: str) -> None:
        if not batch.num_rows:
            return
        lines = batch.column("_source_line").to_numpy(zero_copy_only=False)
        start = self._last[1] if name == self._last[0] else 0
        if lines[0] <= start or (len(lines) > 1 and not (np.diff(lines) > 0).all()):
            self.ordered = False
        self._last = (name, int(lines[-1]))

    def loaded(self, rows: int) -> None:
        """The load added `rows` of the rows kept."""
        self.inserted += rows

    def end_load(self) -> None:
        """The load is over: the key set (8 bytes a key) goes."""
        self.seen.clear()

    @property
    def exact(self) -> bool:
        """The rows kept on the way are exactly the rows loaded: none was left out as known
        to the warehouse, none was loaded late, none dropped as an out-of-order repeat."""
        return self.ordered and self.late == 0 and self.inserted == self.kept


def settle(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    dedup: Dedup,
    *,
    run_id: str,
    now: datetime,
    files: list[str],
    counts: Counts,
) -> None:
    """Settle the rows set aside as repeats by exact key, then fill in the counts.

    A suspect whose key an earlier run loaded is a warehouse duplicate (as is every row the
    load left out for that reason); one whose key this run loaded is a repeat within the
    input; any other (a hash collision, not a repeat) is loaded now, the first of its key by
    file and line. If rows reached the load out of order, the rest were loaded whole and
    repeats are dropped here by file and line instead (`_drop_repeats`).
    """
    table = f"main.{ident(contract.name)}"
    keys = contract.key_columns
    match = same_key(keys, "o", "s")
    in_warehouse = late = 0
    with dedup.repeats.read() as suspects:
        if suspects is not None:
            con.register("suspect_rows", suspects)
            try:
                con.execute("CREATE OR REPLACE TEMP TABLE _suspects AS SELECT * FROM suspect_rows")
            finally:
                con.unregister("suspect_rows")
            row = con.execute(
                f"SELECT count(*) FROM _suspects s WHERE EXISTS (SELECT 1 FROM {table} o "
                f"WHERE o.run_id <> $run_id AND {match})",
                {"run_id": run_id},
            ).fetchone()
            in_warehouse = int(row[0]) if row else 0
            cols = ", ".join(ident(c) for c in [*contract.output_columns, *LINEAGE])
            key = ", ".join(f"s.{ident(k)}" for k in keys)
            first = (
                f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY s._order) = 1"
                if dedup.ordered
                else ""
            )
            scope = "" if dedup.ordered else "o.run_id <> $run_id AND "
            row = con.execute(
                f"INSERT INTO {table} ({cols}, ingestion_time, run_id) "
                f"SELECT {cols}, $now, $run_id FROM _suspects s "
                f"WHERE NOT EXISTS (SELECT 1 FROM {table} o WHERE {scope}{match}) {first}",
                {"now": now, "run_id": run_id},
            ).fetchone()
            late = int(row[0]) if row else 0
            con.execute("DROP TABLE _suspects")
    dedup.late = late
    counts.duplicates_in_warehouse = dedup.kept - dedup.inserted + in_warehouse
    if dedup.ordered:
        counts.valid = dedup.inserted + late
        counts.duplicates_in_input = dedup.repeats.rows - in_warehouse - late
    else:
        repeats = _drop_repeats(con, table, keys, run_id, files)
        counts.valid = dedup.inserted + late - repeats
        counts.duplicates_in_input = repeats
    counts.duplicates = counts.duplicates_in_input + counts.duplicates_in_warehouse
    counts.check()


def _drop_repeats(
    con: duckdb.DuckDBPyConnection, table: str, keys: list[str], run_id: str, files: list[str]
) -> int:
    """Delete this run's repeated keys but the first by input file, then line (the slow
    path: a delete makes DuckDB rewrite every row group it touches at commit)."""
    log.warning("dedup.unordered run_id=%s: rows arrived out of order", run_id)
    key = ", ".join(ident(k) for k in keys)
    row = con.execute(
        f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} "
        f"WHERE run_id = $run_id QUALIFY row_number() OVER (PARTITION BY {key} "
        "ORDER BY list_position($files, _source_file), _source_line) > 1)",
        {"run_id": run_id, "files": files},
    ).fetchone()
    return int(row[0]) if row else 0
