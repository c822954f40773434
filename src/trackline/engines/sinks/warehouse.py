"""The warehouse table: valid rows appended to the contract's table, each key once.

Two routes, both one INSERT that leaves out keys the table already holds, so nothing is ever
deleted and a redelivered or re-run input adds nothing:

- `load`: a whole input streams through one statement (DuckDB pulls the batches, which pass
  every other sink on their way); the run's own repeats were marked off beforehand (`_keep`);
- `write`: one batch, one statement (the stream processor's micro-batches).

The table lives in the run's warehouse (`open_run_warehouse`): the DuckDB file itself, or for
`bigquery://` a working DuckDB whose commit publishes to BigQuery
(`warehouse/bigquery_run.py`). There, the keys BigQuery holds from earlier runs are found after
each input's INSERT (`mark_held`) and left out of what the run reports as added, as the
anti-join leaves out the keys a DuckDB table holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pyarrow as pa

from trackline.config import Settings
from trackline.contracts.spec import Contract
from trackline.core import duck
from trackline.core.dialect import ident
from trackline.engines.stages import plan
from trackline.lake import StoredFile
from trackline.runs.manifest import Manifest
from trackline.warehouse.bigquery_run import BigQueryStaging
from trackline.warehouse.duckdb import DuckDBWarehouse

LINEAGE = ["_source_file", "_source_line"]  # where each row came from


class RunWarehouse(DuckDBWarehouse):
    """The warehouse a batch run writes through: its transaction ends with `commit`, the one
    point after which the run is done (a subclass may check or refuse it)."""

    def commit(self) -> None:
        self.con.execute("COMMIT")

    @property
    def uri(self) -> str:
        """Where the run's rows go (a run's `paths.warehouse`)."""
        return str(self.path.absolute())

    def previous(self, run_id: str) -> Manifest | None:
        """The manifest of the run with this id, if one was done."""
        return plan.previous(self.con, run_id)

    def mark_held(
        self,
        contract: Contract,
        run_id: str,
        where: str,
        params: dict[str, Any],
        *,
        any_run: bool = False,
    ) -> int:
        """Rows of this run the warehouse held from another run already, left out of the
        run's rows: none here (the INSERT's anti-join left them out)."""
        return 0


class BigQueryRunWarehouse(BigQueryStaging, RunWarehouse):
    """A run's warehouse for `bigquery://PROJECT/DATASET` (see `BigQueryStaging`)."""


def open_run_warehouse(
    settings: Settings, duckdb_type: type[RunWarehouse] = RunWarehouse
) -> RunWarehouse:
    """The warehouse a run writes through, as `warehouse_uri` says."""
    if settings.warehouse_kind == "bigquery":
        return BigQueryRunWarehouse(settings)
    return duckdb_type(settings.warehouse, settings)


def _held(
    wh: DuckDBWarehouse,
    contract: Contract,
    run_id: str,
    where: str,
    params: dict[str, Any],
    *,
    any_run: bool = False,
) -> int:
    if isinstance(wh, RunWarehouse):
        return wh.mark_held(contract, run_id, where, params, any_run=any_run)
    return 0


def same_key(keys: list[str], a: str, b: str) -> str:
    """SQL saying rows `a` and `b` have the same key (NULL matches NULL)."""
    return " AND ".join(f"{a}.{ident(k)} IS NOT DISTINCT FROM {b}.{ident(k)}" for k in keys)


class WarehouseTable:
    """A `Sink` for valid rows: appends them to `main.<contract name>` in the caller's
    transaction, with this run's `ingestion_time` and `run_id`."""

    def __init__(
        self, wh: DuckDBWarehouse, contract: Contract, *, run_id: str, now: datetime
    ) -> None:
        self.wh, self.contract = wh, contract
        self.table = f"main.{ident(contract.name)}"
        self.run_id = run_id
        self.now = now  # the rows' `ingestion_time` (a stream sets it for each micro-batch)
        self.inserted = 0
        self._ready = False

    def prepare(self, derived_types: dict[str, str]) -> pa.Schema:
        """Create the table, or add a new contract version's columns; the table's rows'
        schema without lineage (the curated files' shape)."""
        if not self._ready:
            self.wh.ensure_table(self.contract, derived_types)
            self._ready = True
        query = f"SELECT * EXCLUDE ({', '.join(LINEAGE)}) FROM {self.table} LIMIT 0"
        return duck.table(self.wh.con, query).schema

    def holds_rows(self) -> bool:
        query = f"SELECT EXISTS (SELECT 1 FROM {self.table})"
        return self.wh.con.execute(query).fetchall() == [(True,)]

    def load(self, schema: pa.Schema, batches: Iterable[pa.RecordBatch], source: str) -> int:
        """Append the rows marked `_keep` of one input's batches (`source` is their
        `_source_file`), leaving out keys that rows of an earlier run hold; rows added."""
        cols = [*self.contract.output_columns, *LINEAGE]
        values = ", ".join("$source_file" if c == "_source_file" else ident(c) for c in cols)
        known = ""
        if self.holds_rows():
            match = same_key(self.contract.key_columns, "o", "c")
            known = (
                f" AND NOT EXISTS (SELECT 1 FROM {self.table} o "
                f"WHERE o.run_id <> $run_id AND {match})"
            )
        con = self.wh.con
        con.register("checked_rows", pa.RecordBatchReader.from_batches(schema, batches))
        try:
            row = con.execute(
                f"INSERT INTO {self.table} ({', '.join(ident(c) for c in cols)}, "
                f"ingestion_time, run_id) "
                f"SELECT {values}, $now, $run_id FROM checked_rows c WHERE _keep{known}",
                {"now": self.now, "run_id": self.run_id, "source_file": source},
            ).fetchone()
        finally:
            con.unregister("checked_rows")
        added = int(row[0]) if row else 0
        if added:
            where, params = "_source_file = $source", {"source": source}
            added -= _held(self.wh, self.contract, self.run_id, where, params)
        self.inserted += added
        return added

    def write(self, rows: pa.RecordBatch | pa.Table, source: str = "") -> None:
        """Append the rows (the contract's output columns) whose key the table does not hold
        yet, from this run or any other; the table is made from their types if need be."""
        con = self.wh.con
        con.register("batch_rows", rows)
        try:
            if not self._ready:
                described = con.execute("DESCRIBE SELECT * FROM batch_rows").fetchall()
                self.wh.ensure_table(self.contract, {str(r[0]): str(r[1]) for r in described})
                self._ready = True
            cols = ", ".join(ident(c) for c in self.contract.output_columns)
            match = same_key(self.contract.key_columns, "t", "b")
            row = con.execute(
                f"INSERT INTO {self.table} ({cols}, ingestion_time, run_id) "
                f"SELECT {cols}, $now, $run_id FROM batch_rows b "
                f"WHERE NOT EXISTS (SELECT 1 FROM {self.table} t WHERE {match})",
                {"now": self.now, "run_id": self.run_id},
            ).fetchone()
        finally:
            con.unregister("batch_rows")
        added = int(row[0]) if row else 0
        if added:
            where, params = "ingestion_time = $now", {"now": self.now}
            added -= _held(self.wh, self.contract, self.run_id, where, params, any_run=True)
        self.inserted += added

    def finish(self) -> list[StoredFile]:
        return []  # the rows commit with the caller's transaction

    def abort(self) -> None:
        """Nothing to undo here: the caller rolls its transaction back."""
