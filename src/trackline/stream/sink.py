"""The warehouse side of the stream: append valid rows, exactly once per `event_id`.

Each batch is one DuckDB transaction over every event type: new rows are those whose key is
not in the table yet (an anti-join), so a redelivered batch adds nothing. Rejected rows also
go to `meta.rejected` (keyed by message id), next to the batch runs' ones.

DuckDB lets one process write a file at a time, and a reader is refused while a writer holds
it. A reader that finds the file taken says so (it touches `<warehouse>.wanted`) and waits a
bounded time (`warehouse_read_wait_seconds`); after each micro-batch commit the sink looks at
that file and, when a reader asked since it took the warehouse, lets the file go (`release`),
so `trackline query` and the dashboard read between batches even under continuous load. With
no reader waiting the sink keeps the file (reopening it for every batch cost a quarter of the
stream's throughput here); it also lets it go whenever the stream is idle. A reader holding the
file makes the next commit wait for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

import duckdb
import pyarrow as pa

from trackline.config import Settings
from trackline.contracts.spec import Contract
from trackline.engines.sinks.rejected import RejectedTable
from trackline.engines.sinks.warehouse import RunWarehouse, WarehouseTable, open_run_warehouse
from trackline.errors import TracklineError
from trackline.warehouse.duckdb import DuckDBWarehouse, wanted_since

log = logging.getLogger(__name__)
# A reader holds the file for one query or page; a long one (a big `trackline query`, a group
# report on millions of plays) must not make the stream fail: it waits, saying so every 10 s
# (unacked messages come back after the ack timeout and are deduplicated on commit).
OPEN_RETRY_SECONDS = 300.0
BUSY_LOG_SECONDS = 10.0
OPEN_POLL_SECONDS = 0.01  # a reader holds the file for one page or query: milliseconds


class WarehouseSink:
    """The batch engine's warehouse and rejected-rows sinks (`engines.sinks`), one
    transaction a micro-batch, on a warehouse connection held only while busy."""

    def __init__(self, settings: Settings, run_id: str) -> None:
        self.settings = settings
        self.run_id = run_id
        self._wh: RunWarehouse | None = None
        self._tables: dict[str, WarehouseTable] = {}  # per contract, for this connection
        self._rejected: RejectedTable | None = None
        self.waited_seconds = 0.0  # time spent waiting for readers to let the file go
        self._opened_at = 0.0  # when this connection was taken (time.time())

    def _open(self) -> RunWarehouse:
        if self._wh is not None:
            return self._wh
        began = time.monotonic()
        deadline = began + OPEN_RETRY_SECONDS
        logged = began - BUSY_LOG_SECONDS
        while True:
            try:
                self._wh = open_run_warehouse(self.settings)  # DuckDB, or BigQuery's
                self._opened_at = time.time()
                self.waited_seconds += time.monotonic() - began
                return self._wh
            except TracklineError:
                if time.monotonic() > deadline:
                    raise
                now = time.monotonic()
                if now - logged >= BUSY_LOG_SECONDS:  # a reader has it: wait
                    log.info("stream.warehouse_busy waited_s=%.0f", now - began)
                    logged = now
                time.sleep(OPEN_POLL_SECONDS)

    def release(self) -> None:
        if self._wh is not None:
            self._wh.close()
            self._wh = None
            self._tables.clear()
            self._rejected = None

    def write(
        self,
        valid: dict[str, tuple[Contract, pa.Table]],
        rejected: pa.Table | None,
        now: datetime,
        record: Callable[[duckdb.DuckDBPyConnection, dict[str, int]], None] | None = None,
    ) -> dict[str, int]:
        """Commit one batch; returns the rows inserted per event type. `record` writes the
        run's record in the same transaction, once the rows inserted are known."""
        wh = self._open()
        con = wh.con
        inserted: dict[str, int] = {}
        con.execute("BEGIN TRANSACTION")
        try:
            for event, (contract, table) in valid.items():
                inserted[event] = self._append(wh, contract, table, now) if table.num_rows else 0
            if rejected is not None and rejected.num_rows:
                if self._rejected is None:
                    self._rejected = RejectedTable(con, run_id=self.run_id, now=now)
                self._rejected.now = now
                self._rejected.write(rejected)
            if record is not None:
                record(con, inserted)
        except BaseException:
            con.execute("ROLLBACK")
            self.release()
            raise
        try:
            wh.commit()  # BigQuery's publishes the batch (docs/warehouse.md)
        except BaseException:
            self.release()
            raise
        if self._reader_waiting():
            self.release()  # the reader gets the file until the next batch commits
        elif self.settings.warehouse_kind != "duckdb":
            # BigQuery's client is kept for the stream's life; its working tables went with
            # the batch's transaction, so they are prepared again (docs/warehouse.md)
            self._tables.clear()
            self._rejected = None
        return inserted

    def _reader_waiting(self) -> bool:
        """A reader asked for the DuckDB file since this connection took it (BigQuery's
        readers read BigQuery, never the stream's private working file)."""
        if self.settings.warehouse_kind != "duckdb":
            return False
        return wanted_since(self.settings.warehouse, self._opened_at)

    def run(self, step: Callable[[duckdb.DuckDBPyConnection], None]) -> None:
        """Run one more statement step on the warehouse (e.g. the run record at the end),
        committed on its own, then let the file go."""
        wh = self._open()
        con = wh.con
        try:
            con.execute("BEGIN TRANSACTION")
            try:
                step(con)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            wh.commit()
        finally:
            self.release()

    def _append(
        self, wh: DuckDBWarehouse, contract: Contract, rows: pa.Table, now: datetime
    ) -> int:
        table = self._tables.get(contract.name)
        if table is None:
            table = self._tables[contract.name] = WarehouseTable(
                wh, contract, run_id=self.run_id, now=now
            )
        table.now = now
        before = table.inserted
        table.write(rows)
        return table.inserted - before
