"""The warehouse side of the stream: append valid rows, exactly once per `event_id`.

Each batch is one DuckDB transaction over every event type: new rows are those whose key is
not in the table yet (an anti-join), so a redelivered batch adds nothing. Rejected rows also
go to `meta.rejected` (keyed by message id), next to the batch runs' ones.

DuckDB lets one process write a file at a time, and a reader is refused while a writer holds
it. The sink therefore opens the warehouse lazily and `release()`s it whenever the stream goes
idle, so `trackline query` works between bursts; under continuous load it keeps the file.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

import pyarrow as pa

from trackline.config import Settings
from trackline.contracts.spec import Contract
from trackline.core.dialect import ident
from trackline.errors import TracklineError
from trackline.warehouse.duckdb import DuckDBWarehouse

log = logging.getLogger(__name__)
OPEN_RETRY_SECONDS = 60.0


class WarehouseSink:
    def __init__(self, settings: Settings, run_id: str) -> None:
        self.settings = settings
        self.run_id = run_id
        self._wh: DuckDBWarehouse | None = None
        self._tables: set[str] = set()

    def _open(self) -> DuckDBWarehouse:
        if self._wh is not None:
            return self._wh
        deadline = time.monotonic() + OPEN_RETRY_SECONDS
        while True:
            try:
                self._wh = DuckDBWarehouse(self.settings.warehouse, self.settings)
                return self._wh
            except TracklineError:
                if time.monotonic() > deadline:
                    raise
                log.info("stream.warehouse_busy retry_in=0.2s")  # a reader has it: wait
                time.sleep(0.2)

    def release(self) -> None:
        if self._wh is not None:
            self._wh.close()
            self._wh = None
            self._tables.clear()

    def write(
        self,
        valid: dict[str, tuple[Contract, pa.Table]],
        rejected: pa.Table | None,
        now: datetime,
    ) -> dict[str, int]:
        """Commit one batch; returns the rows inserted per event type."""
        wh = self._open()
        con = wh.con
        inserted: dict[str, int] = {}
        con.execute("BEGIN TRANSACTION")
        try:
            for event, (contract, table) in valid.items():
                inserted[event] = (
                    self._append(con, wh, contract, table, now) if table.num_rows else 0
                )
            if rejected is not None and rejected.num_rows:
                con.register("rej", rejected)
                try:
                    con.execute(
                        "INSERT INTO meta.rejected SELECT $run_id, dataset, record, reasons, "
                        "detail, source_file, source_line, $now FROM rej WHERE NOT EXISTS ("
                        "SELECT 1 FROM meta.rejected r WHERE r.source_file = rej.source_file "
                        "AND r.dataset = rej.dataset)",
                        {"run_id": self.run_id, "now": now},
                    )
                finally:
                    con.unregister("rej")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        return inserted

    def _append(
        self, con: Any, wh: DuckDBWarehouse, contract: Contract, table: pa.Table, now: datetime
    ) -> int:
        con.register("batch", table)
        try:
            if contract.name not in self._tables:
                types = {
                    str(r[0]): str(r[1])
                    for r in con.execute("DESCRIBE SELECT * FROM batch").fetchall()
                }
                wh.ensure_table(contract, types)
                self._tables.add(contract.name)
            cols = ", ".join(ident(c) for c in contract.output_columns)
            target = f"main.{ident(contract.name)}"
            match = " AND ".join(
                f"t.{ident(k)} IS NOT DISTINCT FROM b.{ident(k)}" for k in contract.key_columns
            )
            row = con.execute(
                f"INSERT INTO {target} ({cols}, ingestion_time, run_id) "
                f"SELECT {cols}, $now, $run_id FROM batch b "
                f"WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {match})",
                {"now": now, "run_id": self.run_id},
            ).fetchone()
        finally:
            con.unregister("batch")
        return int(row[0]) if row else 0
