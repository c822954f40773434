"""The local batch engine: the stages of a run, in order, on one machine with DuckDB.

plan (inputs, hashes, run id) -> land (raw copies, beside the rest) -> check (the kernel over
each input) -> load (every sink in one pass: rejected rows, warehouse table, curated files,
repeats set aside) -> settle (repeats by exact key) -> rejected rows, reports, run record ->
commit. Each stage is a module of `engines.stages` or `engines.sinks`; this module only says
which runs when, on which thread, under which share of memory.

The load, the run record and the reports are committed in one DuckDB transaction, so a run
that dies half way leaves no rows behind and can simply be run again. The lake follows the
warehouse: the manifest is written after the commit, and a run that fails (its commit
included) takes its reports, rejected and curated files back out of the lake.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, closing, contextmanager
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from trackline.config import Settings
from trackline.contracts.kernel import Kernel
from trackline.contracts.loader import ContractRegistry
from trackline.contracts.spec import Contract
from trackline.core import duck, hugepages
from trackline.core.progress import NullReporter, Reporter
from trackline.engines.sinks.curated import CuratedSink
from trackline.engines.sinks.rejected import RejectedRows, into_meta
from trackline.engines.sinks.repeats import Repeats
from trackline.engines.sinks.warehouse import (
    LINEAGE,
    RunWarehouse,
    WarehouseTable,
    open_run_warehouse,
)
from trackline.engines.stages import plan, record
from trackline.engines.stages.check import CheckedFiles
from trackline.engines.stages.land import land
from trackline.engines.stages.load import Sinks, load
from trackline.engines.stages.read import FastReadMismatch
from trackline.engines.stages.record import RunLayout, RunResult
from trackline.engines.stages.report import write_reports
from trackline.engines.stages.settle import Dedup, settle
from trackline.lake import Lake, StoredFile
from trackline.runs.manifest import Counts, Manifest
from trackline.sources.base import InputFile

__all__ = ["LocalEngine", "RunResult"]

log = logging.getLogger("trackline.engine")

# Shares of the warehouse's memory limit per step. DuckDB caches the table blocks a step writes
# or reads up to its limit, for blocks no step reads twice: under the full limit, peak memory
# grew with the input. The load, the settling and the reports stream and need little; the
# curated export from the table buffers rows per partition and gets more.
LOAD_MEMORY_SHARE = 0.25
EXPORT_MEMORY_SHARE = 0.5
# A run's commit that would write more than this to the WAL checkpoints instead: the rows not
# yet on disk then skip the WAL (the checkpoint the warehouse's close would make anyway).
COMMIT_CHECKPOINT_BYTES = 1 << 20


class LocalEngine:
    """Runs batch ingests on one machine with DuckDB."""

    # the warehouse a run opens (a subclass may check its commit)
    warehouse_type: type[RunWarehouse] = RunWarehouse

    def __init__(
        self,
        settings: Settings,
        *,
        contracts: ContractRegistry | None = None,
        reporter: Reporter | None = None,
    ) -> None:
        self.settings = settings
        self.contracts = contracts or ContractRegistry(settings.contracts_dir)
        self.reporter = reporter or NullReporter()
        self.lake = Lake(settings.lake)
        hugepages.apply(settings.hugepages)  # per process; see trackline/core/hugepages.py
        # pyarrow imports pandas (when installed) on its first conversion of a Python value,
        # which every run makes: paid here, not inside the first run.
        pa.scalar(0)

    def ingest(
        self,
        paths: Sequence[str],
        dataset: str,
        *,
        force: bool = False,
        now: datetime | None = None,
    ) -> RunResult:
        fast = self.settings.ndjson_fast_read
        try:
            return self._ingest(paths, dataset, force=force, now=now, fast=fast)
        except FastReadMismatch as exc:  # nothing was committed: read everything the general way
            log.warning("ndjson.fast_read_abandoned reason=%s: reading again in full", exc)
            return self._ingest(paths, dataset, force=force, now=now, fast=False)

    def _ingest(
        self, paths: Sequence[str], dataset: str, *, force: bool, now: datetime | None, fast: bool
    ) -> RunResult:
        contract = self.contracts.get(dataset)
        files = plan.resolve(paths)
        started = now or datetime.now(UTC)
        timings: dict[str, float] = {}
        self.settings.ensure_home()
        s = self.settings
        kernel = Kernel(
            contract,
            future_tolerance_seconds=s.future_tolerance_seconds,
            threads=s.duckdb_threads,
            memory_limit=s.duckdb_memory_limit,
        )
        checks = CheckedFiles(kernel, files, now=started, batch_rows=s.batch_rows, fast=fast)
        wh: RunWarehouse | None = None
        try:
            # The run id needs every input's hash, the kernel does not: the first file is
            # checked ahead and the warehouse opened while one core hashes the inputs.
            with (
                _timed(timings, "hash"),
                ThreadPoolExecutor(1, thread_name_prefix="trackline-hash") as pool,
            ):
                hashing = pool.submit(
                    plan.hash_inputs, files, scan_lines=checks.fast, threads=s.duckdb_threads
                )
                checks.start()
                wh = open_run_warehouse(s, self.warehouse_type)
                hashed = hashing.result()
                checks.hashed(hashed.scans)
            manifest = plan.new_manifest(s, contract, files, hashed, started, force=force)
            previous = wh.previous(manifest.run_id)
            if previous is not None:
                record.republish(self.lake, previous)
                return record.skipped(self.lake, s, previous)
            log.info(
                "run.start run_id=%s dataset=%s inputs=%d", manifest.run_id, dataset, len(files)
            )
            return self._run(wh, kernel, checks, contract, manifest, timings)
        finally:
            if wh is not None:
                wh.close()
            checks.close()  # before the kernel: its streams read from the kernel's connection
            kernel.close()

    def _run(
        self,
        wh: RunWarehouse,
        kernel: Kernel,
        checks: CheckedFiles,
        contract: Contract,
        manifest: Manifest,
        timings: dict[str, float],
    ) -> RunResult:
        """Check and load every input, settle the repeats, then write the outputs: one
        warehouse transaction."""
        run_id, now = manifest.run_id, manifest.started_at
        layout = RunLayout.of(self.lake, manifest)
        # Landing is I/O: it runs beside the check and is joined before anything commits.
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trackline-land")
        landing = pool.submit(self._land, checks.files, manifest, layout.raw, timings)
        con = wh.con
        counts = Counts()
        sinks = Sinks(
            rejected=RejectedRows(self.lake, layout.rejected_file),
            curated=CuratedSink(self.lake, contract, run_id=run_id, ingestion_time=now),
            table=WarehouseTable(wh, contract, run_id=run_id, now=now),
            dedup=Dedup(contract, Repeats([*contract.output_columns, *LINEAGE])),
        )
        con.execute("BEGIN TRANSACTION")
        try:
            with (
                self._memory_share(con, LOAD_MEMORY_SHARE),
                _timed(timings, "validate"),
                self.reporter.task("validating and loading records") as task,
            ):
                with closing(checks.each()) as each:
                    for checked in each:
                        load(checked, sinks, counts, task.advance)
                [rejected] = sinks.rejected.finish()
            sinks.dedup.end_load()
            counts.rejected = sinks.rejected.rows
            counts.rejected_by_reason = sinks.rejected.by_reason()
            kernel.close()  # its memory is not needed past this point
            landing.result()
            with self._memory_share(con, LOAD_MEMORY_SHARE), _timed(timings, "dedup"):
                files = [f.uri for f in checks.files]
                settle(
                    con, contract, sinks.dedup, run_id=run_id, now=now, files=files, counts=counts
                )
            result = self._outputs(
                con, contract, manifest, counts, layout, timings, sinks, rejected
            )
        except BaseException as exc:
            con.execute("ROLLBACK")
            self._failed(con, manifest, sinks, exc)
            raise
        finally:
            sinks.abort()
            pool.shutdown(wait=True)
            kernel.close()
        try:
            with _timed(timings, "commit"):
                con.execute(f"SET checkpoint_threshold = '{COMMIT_CHECKPOINT_BYTES}B'")
                try:
                    wh.commit()
                finally:
                    con.execute("RESET checkpoint_threshold")
        except BaseException as exc:  # DuckDB ends a transaction whose commit failed
            self._failed(con, manifest, sinks, exc)
            raise
        record.publish(self.lake, result)
        log.info(
            "run.done run_id=%s dataset=%s %s",
            run_id,
            manifest.dataset,
            result.message.replace(", ", " "),
        )
        return result

    def _failed(
        self,
        con: duckdb.DuckDBPyConnection,
        manifest: Manifest,
        sinks: Sinks,
        exc: BaseException,
    ) -> None:
        """After the rollback: nothing in the lake claims the run, and `meta.runs` says why
        it failed (a fast read abandoned is read again at once: no failure to record)."""
        if not isinstance(exc, FastReadMismatch):
            record.failed(con, self.lake.uri, manifest, exc)
        sinks.curated.abort()
        try:
            sinks.curated.discard()
            record.withdraw(self.lake, manifest)
        except Exception:  # the run's own error matters more; the rerun rewrites these names
            log.exception("run.withdraw_failed run_id=%s", manifest.run_id)

    def _outputs(
        self,
        con: duckdb.DuckDBPyConnection,
        contract: Contract,
        manifest: Manifest,
        counts: Counts,
        layout: RunLayout,
        timings: dict[str, float],
        sinks: Sinks,
        rejected: StoredFile,
    ) -> RunResult:
        """Everything else that commits with the load: rejected rows, reports, curated files
        and the run record."""
        s = self.settings
        with self._memory_share(con, LOAD_MEMORY_SHARE), _timed(timings, "rejected"):
            into_meta(
                con,
                self.lake,
                rejected,
                run_id=manifest.run_id,
                dataset=manifest.dataset,
                now=manifest.started_at,
                batch_rows=s.batch_rows,
            )
        manifest.counts = counts
        with self._memory_share(con, LOAD_MEMORY_SHARE), _timed(timings, "reports"):
            reports = write_reports(con, self.lake, s, contract, manifest, layout.reports)
        # The curated writer drains its last rows while the repeats are settled, the rejected
        # rows loaded and the reports made (one core each: the tail of a run is short of work).
        with _timed(timings, "curated"):
            curated = sinks.curated.finish()
        if not (sinks.curated.usable and sinks.dedup.exact):
            # the rows kept on the way are not exactly the rows loaded: export those
            with (
                self._memory_share(con, EXPORT_MEMORY_SHARE),
                _timed(timings, "curated"),
                self.reporter.task("writing curated Parquet"),
            ):
                curated = sinks.curated.export(con, sinks.table.table, batch_rows=s.batch_rows)
        outputs = {"rejected": [rejected], "curated": curated, "reports": reports}
        return record.done(con, self.lake, s, manifest, outputs, timings)

    def _land(
        self, files: list[InputFile], manifest: Manifest, raw_dir: str, timings: dict[str, float]
    ) -> None:
        with _timed(timings, "land"):
            land(self.lake, files, manifest, raw_dir)

    def _memory_share(
        self, con: duckdb.DuckDBPyConnection, fraction: float
    ) -> AbstractContextManager[None]:
        """A step under a share of the warehouse's memory limit (see the constants)."""
        return duck.memory_share(con, self.settings.duckdb_memory_limit, fraction)


@contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = round(timings.get(step, 0.0) + time.perf_counter() - start, 4)
