"""The local batch engine: files -> landing -> kernel -> warehouse + curated lake + reports.

Every step is set-oriented: input batches stream through the compiled kernel straight into the
warehouse table (rejected rows into their Parquet file, kept rows into the curated lake,
repeated keys left out on the way), then a few SQL statements settle the repeats and profile.
Nothing is held in Python per row, and memory stays bounded by the batch size, DuckDB's limit
and 8 bytes a distinct key.

The load, the run record and the reports are committed in one DuckDB transaction, so a run
that dies half way leaves no rows behind and can simply be run again.
"""

from __future__ import annotations

import logging
import os
import posixpath
import tempfile
import time
import uuid
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, closing, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trackline import __version__
from trackline.config import Settings
from trackline.contracts.kernel import (
    REJECTED_SCHEMA,
    UNPARSED,
    Kernel,
    count_reasons,
)
from trackline.contracts.loader import ContractRegistry
from trackline.contracts.spec import Contract
from trackline.core import duck, hugepages
from trackline.core.dialect import ident, literal
from trackline.core.hashing import sha256_stream
from trackline.core.prefetch import Prefetcher, prefetch
from trackline.core.progress import NullReporter, Reporter
from trackline.engines.curated import CuratedSink, PartitionWriter, partition_alias
from trackline.engines.keys import SeenKeys
from trackline.errors import TracklineError, UsageError
from trackline.lake import Lake, StoredFile
from trackline.quality.profile import profile
from trackline.quality.render import render_html, render_markdown
from trackline.quality.slices import slice_report
from trackline.runs.manifest import Counts, InputRecord, Manifest, OutputRecord, run_id_for
from trackline.sources import ndjson_fast
from trackline.sources.base import InputFile
from trackline.sources.files import LINES_SCHEMA, expand, read_batches
from trackline.sources.ndjson_fast import LinePicker, LineScan
from trackline.warehouse.duckdb import DuckDBWarehouse

log = logging.getLogger("trackline.engine")

LINEAGE = ["_source_file", "_source_line"]  # where each warehouse row came from
# Rows per partition and thread that the curated export from the table (the route taken when
# the files written on the way cannot be kept) buffers before it writes. With a
# month of day partitions, 16k rows each overflowed the export's memory share and spilled
# (1.4-2.1 s at 1M events, against 0.9-1.1 s at 8k). DuckDB's writer merges flushes: the
# row groups written are 8k-42k rows at 5M events.
CURATED_FLUSH_ROWS = 8_192
# Shares of the warehouse's memory limit per step. DuckDB caches the table blocks a step writes
# or reads up to its limit, so under the full limit peak memory grew with the input (+225 MB
# at 5M events) for blocks no step reads twice. The load streams and needs little; the
# curated export (the table route) buffers rows per partition: it gets more. (The whole
# limit for the export: 0.9 s at 1M events, but peak RSS +29% from 1M to 5M.) The reports
# run under the load's share: under the export's they cached the run's blocks they scanned,
# which made them the peak of a 5M-event run (684 MB, against 620; same time, 1.5 s).
LOAD_MEMORY_SHARE = 0.25
# A run's commit that would write more than this to the WAL checkpoints instead (see `_run`).
COMMIT_CHECKPOINT_BYTES = 1 << 20
# Rejected rows of a fast read gathered before their text is read and checked (`_FastText`).
REJECTED_BATCH_ROWS = 16_384
EXPORT_MEMORY_SHARE = 0.5
# While the inputs hash (the run id needs them all), the fast read's kernel checks the first
# file ahead into up to this share of the memory limit (192 MB of the default 512), instead of
# a couple of batches: at 5M events the hash took 1.5-2 s and one core sat idle most of it
# once the kernel's usual two batches were done. With the lead the run took 0.4-1.5 s less
# (12.8-13.6 s against 13.2-15.0 in alternating runs), peak RSS the same: the load drains the
# lead soon after the hash, and its own peak comes later (see `_lead_bytes`).
HEAD_LEAD_SHARE = 0.375
_DAY_US = 86_400_000_000  # microseconds a day


@dataclass
class RunResult:
    manifest: Manifest
    skipped: bool = False
    message: str = ""
    paths: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The `--json` shape of a run (a public interface: add keys, never rename)."""
        m = self.manifest
        return {
            "run_id": m.run_id,
            "dataset": m.dataset,
            "status": m.status,
            "skipped": self.skipped,
            "message": self.message,
            "counts": m.counts.model_dump(),
            "paths": self.paths,
            "timings": m.timings,
        }


class LocalEngine:
    """Runs batch ingests on one machine with DuckDB."""

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
        hugepages.apply(settings.hugepages)  # per process; see trackline/hugepages.py

    # Public ------------------------------------------------------------------------------
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
        except _Realign as exc:  # nothing was committed: read everything the general way
            log.warning("ndjson.fast_read_abandoned reason=%s: reading again in full", exc)
            return self._ingest(paths, dataset, force=force, now=now, fast=False)

    def _ingest(
        self,
        paths: Sequence[str],
        dataset: str,
        *,
        force: bool,
        now: datetime | None,
        fast: bool,
    ) -> RunResult:
        contract = self.contracts.get(dataset)
        files = expand(paths)
        if not files:
            raise UsageError("no input files given: name at least one file, folder or glob")
        started = now or datetime.now(UTC)
        timings: dict[str, float] = {}
        self.settings.ensure_home()
        kernel = Kernel(
            contract,
            future_tolerance_seconds=self.settings.future_tolerance_seconds,
            threads=self.settings.duckdb_threads,
            memory_limit=self.settings.duckdb_memory_limit,
        )
        fast = fast and kernel.reads_files
        first = ExitStack()  # the first file's checking, closed once that file is loaded
        spools = ExitStack()
        wh: DuckDBWarehouse | None = None
        try:
            # The run id needs every input's hash, the kernel does not: the first file is
            # checked ahead (a fast read into a share of memory, `HEAD_LEAD_SHARE`; otherwise a
            # few batches) and the warehouse opened while one core hashes the inputs, instead
            # of the other core waiting for the hash.
            first_fast = fast and ndjson_fast.eligible(files[0])
            with (
                _timed(timings, "hash"),
                ThreadPoolExecutor(1, thread_name_prefix="trackline-hash") as pool,
            ):
                hashing = pool.submit(self._hash_all, files, fast)
                checked = first.enter_context(
                    self._checking(
                        kernel,
                        files[0],
                        started,
                        first_fast,
                        lead_bytes=self._lead_bytes(kernel) if first_fast else 0,
                    )
                )
                wh = DuckDBWarehouse(self.settings.warehouse, self.settings)
                hashes, scans = hashing.result()
                checked.batches.end_lead()
                for scan in scans:  # their line-end spools go with the run
                    if scan is not None:
                        spools.callback(scan.close)
            manifest = self._manifest(dataset, contract, files, hashes, started, force=force)
            previous = self._previous(wh, manifest.run_id)
            if previous is not None:
                return previous
            log.info(
                "run.start run_id=%s dataset=%s inputs=%d", manifest.run_id, dataset, len(files)
            )
            return self._run(
                wh, kernel, (first, checked), contract, files, scans, manifest, timings
            )
        finally:
            if wh is not None:
                wh.close()
            first.close()  # before the kernel: its stream reads from the kernel's connection
            spools.close()
            kernel.close()

    def _manifest(
        self,
        dataset: str,
        contract: Contract,
        files: list[InputFile],
        hashes: list[tuple[str, int]],
        started: datetime,
        *,
        force: bool,
    ) -> Manifest:
        """A new run's manifest; its id is derived from what went in (see `run_id_for`)."""
        config_hash = self.settings.fingerprint()
        run_id = run_id_for(
            dataset,
            contract.digest,
            config_hash,
            [h for h, _ in hashes] + ([uuid.uuid4().hex] if force else []),
        )
        return Manifest(
            run_id=run_id,
            dataset=dataset,
            contract={
                "name": contract.name,
                "version": contract.version,
                "digest": contract.digest,
                "origin": contract.origin,
            },
            config_hash=config_hash,
            package_version=__version__,
            started_at=started,
            inputs=[
                InputRecord(
                    uri=f.uri, format=f.format, compression=f.compression, bytes=size, sha256=h
                )
                for f, (h, size) in zip(files, hashes, strict=True)
            ],
        )

    # Steps -------------------------------------------------------------------------------
    def _run(
        self,
        wh: DuckDBWarehouse,
        kernel: Kernel,
        first: tuple[ExitStack, _Checked],
        contract: Contract,
        files: list[InputFile],
        scans: list[LineScan | None],
        manifest: Manifest,
        timings: dict[str, float],
    ) -> RunResult:
        """Validate and load every file, dedup, then write outputs: one warehouse transaction.

        Checked rows stream from the kernel (its own in-memory DuckDB) straight into the
        warehouse table and rejected rows straight into their Parquet file: nothing is staged,
        so memory stays flat and no row is written twice.
        """
        run_id, dataset = manifest.run_id, manifest.dataset
        day = manifest.started_at.strftime("%Y-%m-%d")
        raw_dir = self.lake.path("raw", dataset, f"date={day}", f"run_id={run_id}")
        rejected_path = self.lake.path(
            "rejected", dataset, f"date={day}", f"run_id={run_id}", "part-00000.parquet"
        )
        # Landing is I/O: it runs beside validation and is joined before anything commits.
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trackline-land")
        landing = pool.submit(self._land, files, manifest, raw_dir, timings)
        con = wh.con
        counts = Counts()
        dedup = _Dedup(contract)
        curated = CuratedSink(
            PartitionWriter(
                self.lake,
                self.lake.path("curated", contract.name),
                [p.column for p in contract.partitions],
                f"part-{run_id}-{{i}}.parquet",
                plain=contract.unique_text_key,
            ),
            run_id=run_id,
            ingestion_time=manifest.started_at,
        )
        con.execute("BEGIN TRANSACTION")
        try:
            with (
                self._memory_share(con, LOAD_MEMORY_SHARE),
                _timed(timings, "validate"),
                self.reporter.task("validating and loading records") as task,
                _RejectedSink(self.lake, rejected_path) as rejected,
                closing(
                    self._each_checked(kernel, files, scans, first, manifest.started_at)
                ) as each,
            ):
                for checked in each:
                    self._load_file(
                        wh, contract, checked, manifest, task, rejected, dedup, curated, counts
                    )
            dedup.seen.clear()  # 8 bytes a key: not needed past the load
            counts.rejected = rejected.rows
            counts.rejected_by_reason = dict(
                sorted(rejected.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
            )
            kernel.close()  # its memory is not needed past this point
            landing.result()
            with self._memory_share(con, LOAD_MEMORY_SHARE), _timed(timings, "dedup"):
                self._settle(con, contract, manifest, dedup, [f.uri for f in files], counts)
            result = self._commit(
                wh, contract, manifest, timings, counts, rejected.stored, curated, dedup
            )
        except BaseException as exc:
            con.execute("ROLLBACK")
            if isinstance(exc, _Realign):  # run again at once: no failure to record
                curated.abort()
                curated.discard()
            else:
                self._record_failure(wh, manifest, exc)
            raise
        finally:
            curated.abort()
            pool.shutdown(wait=True)
            kernel.close()
            dedup.close()
        with _timed(timings, "commit"):
            # The commit makes the checkpoint the warehouse's close would make anyway: the
            # rows not yet on disk (the rejected ones, 18 MB at 1M events) then skip the WAL
            # (commit and close: 0.16 s -> 0.13 at 1M events).
            con.execute(f"SET checkpoint_threshold = '{COMMIT_CHECKPOINT_BYTES}B'")
            try:
                con.execute("COMMIT")
            finally:
                con.execute("RESET checkpoint_threshold")
        log.info(
            "run.done run_id=%s dataset=%s %s", run_id, dataset, result.message.replace(", ", " ")
        )
        return result

    def _land(
        self, files: list[InputFile], manifest: Manifest, raw_dir: str, timings: dict[str, float]
    ) -> None:
        with _timed(timings, "land"):
            for i, (f, rec) in enumerate(zip(files, manifest.inputs, strict=True)):
                landed = self.lake.land(
                    f.uri, f"{raw_dir}/part-{i:05d}-{f.name}", sha256=rec.sha256
                )
                rec.landed = self.lake.display(landed.path)

    def _each_checked(
        self,
        kernel: Kernel,
        files: list[InputFile],
        scans: list[LineScan | None],
        first: tuple[ExitStack, _Checked],
        now: datetime,
    ) -> Generator[_Checked]:
        """Each file's checked batches in turn (the first one's already started); a file's
        stream is closed before the next one opens (the kernel runs one query at a time).

        The first file was started on the fast read before its hash pass could say whether
        the file reads the same that way; if not, it starts again on the general reader
        (nothing of it was loaded yet).
        """
        stack, checked = first
        with stack:
            restart = checked.fast and not _reads_fast(scans[0])
            if not restart:
                yield _with_scan(checked, scans[0])
        if restart:
            with self._checking(kernel, files[0], now) as checked:
                yield checked
        for f, scan in zip(files[1:], scans[1:], strict=True):
            with self._checking(kernel, f, now, fast=_reads_fast(scan)) as checked:
                yield _with_scan(checked, scan)

    @contextmanager
    def _checking(
        self,
        kernel: Kernel,
        f: InputFile,
        now: datetime,
        fast: bool = False,
        *,
        lead_bytes: int = 0,
    ) -> Iterator[_Checked]:
        """Start checking a file: the kernel's output, produced a few batches ahead on its
        own threads from the moment this is entered.

        The output carries each row's key hash and partition values, and not the source
        path: every row of a file has the same one, and it joins the rows only where they
        are written (a column of a million copies of the path cost 0.4-0.8 CPU-seconds a
        million rows to carry through the kernel and into the table).
        """
        contract = kernel.contract
        reader = None if fast else read_batches(f, self.settings.batch_rows)
        kernel_schema = _without_source(LINES_SCHEMA if reader is None else reader.schema)
        program = kernel.file_program(f.uri) if fast else kernel.compile(kernel_schema)
        kcon = kernel.connection
        parts = "".join(
            f", {expr} AS {partition_alias(i)}"
            for i, expr in enumerate(_partition_exprs(contract, alias=False, stream=True))
        )
        sql = (
            f"SELECT * EXCLUDE (_source_file), {self._key_hash(contract)} AS _key_hash{parts} "
            f"FROM ({program.sql})"
        )
        if reader is not None:
            inputs = (_without_source(batch) for batch in reader)
            source = pa.RecordBatchReader.from_batches(kernel_schema, prefetch(inputs))
            kcon.register("input", source)
        try:
            types: dict[str, str] = {}  # the derived columns' for the table (no second bind)
            with (
                duck.stream(
                    kcon, sql, {"now": now}, self.settings.batch_rows, types=types
                ) as stream,
                Prefetcher(stream, lead_bytes=lead_bytes) as batches,
            ):
                derived = {name: types[name] for name in contract.derived}
                yield _Checked(f.uri, derived, stream.schema, batches, fast=fast)
        finally:
            if reader is not None:
                kcon.unregister("input")

    def _load_file(
        self,
        wh: DuckDBWarehouse,
        contract: Contract,
        checked: _Checked,
        manifest: Manifest,
        task: Any,
        rejected: _RejectedSink,
        dedup: _Dedup,
        curated: CuratedSink,
        counts: Counts,
    ) -> None:
        """Append a file's new valid rows to the table; rejected rows to the sink.

        Repeated keys are decided on the way (`_Dedup`), so nothing is ever deleted, and a key
        the warehouse held before this run is left out by the INSERT itself. The rows kept
        also go to the curated lake on the way (`CuratedSink`).
        """
        source = checked.source
        if counts.input == 0:  # first file: create the table, or add a new version's columns
            wh.ensure_table(contract, checked.derived_types)
        table = f"main.{ident(contract.name)}"
        curated.open(
            duck.table(
                wh.con, f"SELECT * EXCLUDE ({', '.join(LINEAGE)}) FROM {table} LIMIT 0"
            ).schema
        )
        out_cols = [*contract.output_columns, *LINEAGE]

        text = (
            _FastText(contract, self.settings, source, checked.scan, manifest.started_at)
            if checked.fast and checked.scan is not None
            else None
        )
        rows = 0
        realign: list[_Realign] = []  # raised inside DuckDB's scan, which would reword it

        def tee() -> Iterator[pa.RecordBatch]:
            """Mark each batch's rows to load (`_keep`); copy out the rejected ones and the
            repeated keys, which are few."""
            nonlocal rows
            for batch in _realigning(checked, realign):
                rows += batch.num_rows
                counts.input += batch.num_rows
                task.advance(batch.num_rows)
                valid = pc.equal(pc.list_value_length(batch.column("_errors")), 0)
                if not pc.all(valid).as_py():
                    bad = batch.filter(pc.invert(valid))
                    for done in [bad] if text is None else completing(text.add, bad):
                        rejected.write(done, source)
                keep = dedup.keep(batch, valid, source)
                curated.write(batch, keep)
                yield batch.append_column("_keep", keep)
            if text is not None:  # the file's last rejected rows
                for done in completing(text.flush):
                    rejected.write(done, source)

        def completing(
            step: Callable[..., list[pa.RecordBatch]], *args: Any
        ) -> list[pa.RecordBatch]:
            try:
                return step(*args)
            except _Realign as exc:
                realign.append(exc)
                raise

        cols = ", ".join(ident(c) for c in out_cols)
        values = ", ".join("$source_file" if c == "_source_file" else ident(c) for c in out_cols)
        held = self._holds_rows(wh, table)
        match = _same_key(contract.key_columns, "o", "c")
        known = (
            f" AND NOT EXISTS (SELECT 1 FROM {table} o WHERE o.run_id <> $run_id AND {match})"
            if held
            else ""
        )
        wh.con.register(
            "checked_rows",
            pa.RecordBatchReader.from_batches(
                checked.schema.append(pa.field("_keep", pa.bool_())), tee()
            ),
        )
        try:
            row = wh.con.execute(
                f"INSERT INTO {table} ({cols}, ingestion_time, run_id) "
                f"SELECT {values}, $now, $run_id FROM checked_rows c WHERE _keep{known}",
                {"now": manifest.started_at, "run_id": manifest.run_id, "source_file": source},
            ).fetchone()
        except Exception:
            if realign:
                raise realign[0] from None
            raise
        finally:
            wh.con.unregister("checked_rows")
            if text is not None:
                text.close()
        if checked.scan is not None and rows != checked.scan.lines:
            raise _Realign(f"{rows} rows read from {checked.scan.lines} lines")
        dedup.loaded(int(row[0]) if row else 0)

    @staticmethod
    def _key_hash(contract: Contract) -> str:
        """SQL for a row's 64-bit key hash (only a hint: repeats are confirmed by exact key)."""
        return f"hash({', '.join(ident(k) for k in contract.key_columns)})"

    @staticmethod
    def _holds_rows(wh: DuckDBWarehouse, table: str) -> bool:
        return wh.con.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchall() == [(True,)]

    def _settle(
        self,
        con: Any,
        contract: Contract,
        manifest: Manifest,
        dedup: _Dedup,
        files: list[str],
        counts: Counts,
    ) -> None:
        """Settle the rows set aside as repeats by exact key, then fill in the counts.

        A suspect whose key an earlier run loaded is a warehouse duplicate (as is every row
        the load left out for that reason); one whose key this run loaded is a repeat within
        the input; any other (a hash collision, not a repeat) is loaded now, the first of its
        key by file and line. If rows reached the load out of order, the rest were loaded
        whole and repeats are dropped here by file and line instead (`_drop_repeats`).
        """
        run_id, now = manifest.run_id, manifest.started_at
        table = f"main.{ident(contract.name)}"
        keys = contract.key_columns
        match = _same_key(keys, "o", "s")
        params = {"now": now, "run_id": run_id}
        in_warehouse = late = 0
        with dedup.suspects() as suspects:
            if suspects is not None:
                con.register("suspect_rows", suspects)
                try:
                    con.execute(
                        "CREATE OR REPLACE TEMP TABLE _suspects AS SELECT * FROM suspect_rows"
                    )
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
                    params,
                ).fetchone()
                late = int(row[0]) if row else 0
                con.execute("DROP TABLE _suspects")
        dedup.late = late
        counts.duplicates_in_warehouse = dedup.kept - dedup.inserted + in_warehouse
        if dedup.ordered:
            counts.valid = dedup.inserted + late
            counts.duplicates_in_input = dedup.suspect_rows - in_warehouse - late
        else:
            repeats = self._drop_repeats(con, table, keys, run_id, files)
            counts.valid = dedup.inserted + late - repeats
            counts.duplicates_in_input = repeats
        counts.duplicates = counts.duplicates_in_input + counts.duplicates_in_warehouse
        counts.check()

    @staticmethod
    def _drop_repeats(con: Any, table: str, keys: list[str], run_id: str, files: list[str]) -> int:
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

    def _commit(
        self,
        wh: DuckDBWarehouse,
        contract: Contract,
        manifest: Manifest,
        timings: dict[str, float],
        counts: Counts,
        rejected_file: StoredFile,
        curated: CuratedSink,
        dedup: _Dedup,
    ) -> RunResult:
        """Everything else that commits with the load: rejected rows, reports, run record."""
        con = wh.con
        run_id, dataset = manifest.run_id, manifest.dataset
        table = f"main.{ident(contract.name)}"
        with (
            self._memory_share(con, LOAD_MEMORY_SHARE),  # the 5M-event peak under the full limit
            _timed(timings, "rejected"),
        ):
            self._load_rejected(con, rejected_file, manifest)
        manifest.counts = counts
        run_rows = f"(SELECT * FROM {table} WHERE run_id = $run_id)"
        outputs: dict[str, list[StoredFile]] = {"rejected": [rejected_file]}
        with self._memory_share(con, LOAD_MEMORY_SHARE), _timed(timings, "reports"):
            params = {"run_id": run_id}
            quality = profile(
                con,
                run_rows,
                contract,
                rejected_by_reason=counts.rejected_by_reason,
                rejected_rows=counts.rejected,
                duplicates=counts.duplicates,
                params=params,
            )
            slices = slice_report(
                con,
                run_rows,
                contract,
                min_n=self.settings.slice_min_n,
                min_share=self.settings.slice_min_share,
                params=params,
            )
            run_doc = {
                "run_id": run_id,
                "dataset": dataset,
                "started_at": manifest.started_at.isoformat(),
                "counts": {**counts.model_dump()},
            }
            base = self.lake.path("reports", run_id)
            outputs["reports"] = [
                self.lake.write_json(f"{base}/quality.json", quality),
                self.lake.write_json(f"{base}/slices.json", slices),
                self.lake.write_text(
                    f"{base}/report.md", render_markdown(run_doc, quality, slices)
                ),
                self.lake.write_text(f"{base}/report.html", render_html(run_doc, quality, slices)),
            ]
            for kind, body in (("quality", quality), ("slices", slices)):
                con.execute(
                    "INSERT INTO meta.reports VALUES ($run_id, $dataset, $kind, $body)",
                    {"run_id": run_id, "dataset": dataset, "kind": kind, "body": _json(body)},
                )
        # The curated writer drains its last rows while the repeats are settled, the rejected
        # rows loaded and the reports made (one core each: the tail of a run is short of work).
        with _timed(timings, "curated"):
            curated.finish()
        if curated.usable and dedup.exact:
            outputs["curated"] = curated.files
        else:  # the rows kept on the way are not exactly the rows loaded: export those
            log.info("curated.table_route run_id=%s", run_id)
            with (
                self._memory_share(con, EXPORT_MEMORY_SHARE),
                _timed(timings, "curated"),
                self.reporter.task("writing curated Parquet"),
            ):
                curated.discard()
                outputs["curated"] = self._write_curated(con, contract, table, run_id)
        outputs = {k: outputs[k] for k in ("rejected", "curated", "reports")}
        manifest.outputs = {
            k: [
                OutputRecord(
                    path=self.lake.display(s.path), rows=s.rows, bytes=s.bytes, sha256=s.sha256
                )
                for s in v
            ]
            for k, v in outputs.items()
        }
        manifest.status = "done"
        manifest.finished_at = datetime.now(UTC)
        manifest.timings = timings
        manifest_path = self.lake.path("manifests", f"{run_id}.json")
        self._record_run(wh, manifest)
        self.lake.write_json(manifest_path, manifest.model_dump(mode="json"))
        message = (
            f"{counts.valid} new rows, {counts.rejected} rejected, {counts.duplicates} duplicates"
        )
        if counts.valid == 0 and counts.duplicates_in_warehouse:
            message += " (everything valid was already in the warehouse: nothing added)"
        return RunResult(
            manifest, message=message, paths=self._paths(manifest, base, manifest_path)
        )

    def _load_rejected(self, con: Any, rejected_file: StoredFile, manifest: Manifest) -> None:
        """Copy the run's rejected rows from their Parquet file into `meta.rejected`.

        DuckDB reads a local file itself, on all its threads (0.03 s at 1M events, against
        0.07 through a Python reader); a path it would take for a glob, or a remote lake,
        streams through pyarrow.
        """
        insert = (
            "INSERT INTO meta.rejected SELECT $run_id, $dataset, record, reasons, "
            "detail, source_file, source_line, $now FROM "
        )
        params = {
            "run_id": manifest.run_id,
            "dataset": manifest.dataset,
            "now": manifest.started_at,
        }
        path = rejected_file.path
        if self.lake.is_local and not ndjson_fast.GLOB_CHARS & set(path):
            con.execute(insert + "read_parquet($path)", {**params, "path": path})
            return
        with self.lake.fs.open(path, "rb") as fh:
            pf = pq.ParquetFile(fh)
            rows = pa.RecordBatchReader.from_batches(
                pf.schema_arrow, pf.iter_batches(self.settings.batch_rows)
            )
            con.register("rejected_rows", rows)
            try:
                con.execute(insert + "rejected_rows", params)
            finally:
                con.unregister("rejected_rows")

    def _write_curated(
        self, con: Any, contract: Contract, table: str, run_id: str
    ) -> list[StoredFile]:
        parts = contract.partitions
        select = ", ".join([f"* EXCLUDE ({', '.join(LINEAGE)})", *_partition_exprs(contract)])
        sql = f"SELECT {select} FROM {table} WHERE run_id = $run_id"
        base = self.lake.path("curated", contract.name)
        columns = [p.column for p in parts]
        pattern = f"part-{run_id}-{{i}}"
        if self.lake.is_local:  # DuckDB's own parallel writer; same layout as the Arrow path
            options = [
                "FORMAT parquet",
                f"FILENAME_PATTERN {literal(pattern)}",
                "OVERWRITE_OR_IGNORE true",
                "RETURN_FILES true",
            ]
            if columns:
                options.append(f"PARTITION_BY ({', '.join(ident(c) for c in columns)})")
            else:
                base = f"{base}/{pattern.replace('{i}', '0')}.parquet"
            Path(self.lake.path("curated", contract.name)).mkdir(parents=True, exist_ok=True)
            # DuckDB buffers up to this many rows per partition and thread before it writes;
            # its default (524288) overflows the memory limit once there are a few dozen
            # partitions, and the spilling made the export twice as slow at 5M events.
            con.execute(f"SET partitioned_write_flush_threshold = {CURATED_FLUSH_ROWS}")
            try:
                row = con.execute(
                    f"COPY ({sql}) TO {literal(base)} ({', '.join(options)})", {"run_id": run_id}
                ).fetchone()
            finally:
                con.execute("RESET partitioned_write_flush_threshold")
            paths = sorted(row[1] or []) if columns and row is not None else [base]
            return [
                self.lake.stored(p, pq.ParquetFile(p).metadata.num_rows)
                for p in paths
                if Path(p).is_file()
            ]
        with duck.stream(con, sql, {"run_id": run_id}, self.settings.batch_rows) as reader:
            return self.lake.write_partitioned(reader, base, columns, pattern + ".parquet")

    # Helpers -----------------------------------------------------------------------------
    @staticmethod
    def _lead_bytes(kernel: Kernel) -> int:
        """How far the fast read's kernel may check ahead while the inputs hash.

        Only the fast read gets a lead: its kernel (one thread) is the slowest stage, so the
        load drains the lead soon after the hash. The general read's kernel runs on every
        core and is not the slowest stage; a lead lasted into the load, and at 5M events
        peak RSS rose from 750-772 to 788-821 MB for 0.1-0.4 s.
        """
        return int(HEAD_LEAD_SHARE * duck.memory_limit(kernel.connection)[1])

    def _memory_share(self, con: Any, fraction: float) -> AbstractContextManager[None]:
        """A step under a share of the warehouse's memory limit (see the constants)."""
        return duck.memory_share(con, self.settings.duckdb_memory_limit, fraction)

    def _hash_all(
        self, files: list[InputFile], fast: bool
    ) -> tuple[list[tuple[str, int]], list[LineScan | None]]:
        """Every input's hash and size, several files at once (hashing releases the GIL);
        and, for a file that may take the fast read, what the same pass saw of its lines."""

        def one(f: InputFile) -> tuple[str, int, LineScan | None]:
            scan = LineScan() if fast and ndjson_fast.eligible(f) else None
            digest, size = self._hash(f, scan)
            return digest, size, scan

        if len(files) < 2:
            done = [one(f) for f in files]
        else:
            workers = min(len(files), self.settings.duckdb_threads or os.cpu_count() or 1)
            with ThreadPoolExecutor(workers, thread_name_prefix="trackline-hash") as pool:
                done = list(pool.map(one, files))
        return [(h, n) for h, n, _ in done], [s for _, _, s in done]

    def _hash(self, f: InputFile, scan: LineScan | None = None) -> tuple[str, int]:
        fs, path = fsspec.core.url_to_fs(f.uri)
        with fs.open(path, "rb") as fh:
            return sha256_stream(fh, copy_to=scan)

    def _previous(self, wh: DuckDBWarehouse, run_id: str) -> RunResult | None:
        row = wh.con.execute(
            "SELECT manifest FROM meta.runs WHERE run_id = ? AND status = 'done'", [run_id]
        ).fetchone()
        if row is None:
            return None
        manifest = Manifest.model_validate_json(row[0])
        message = (
            f"run {run_id} already ingested these inputs at "
            f"{manifest.started_at:%Y-%m-%d %H:%M:%S} UTC: nothing added "
            "(use --force to validate them again; duplicates are still skipped)"
        )
        return RunResult(
            manifest,
            skipped=True,
            message=message,
            paths=self._paths(
                manifest,
                self.lake.path("reports", run_id),
                self.lake.path("manifests", f"{run_id}.json"),
            ),
        )

    def _paths(self, manifest: Manifest, reports: str, manifest_path: str) -> dict[str, str]:
        d = self.lake.display
        day = manifest.started_at.strftime("%Y-%m-%d")
        return {
            "raw": d(
                self.lake.path("raw", manifest.dataset, f"date={day}", f"run_id={manifest.run_id}")
            ),
            "curated": d(self.lake.path("curated", manifest.dataset)),
            "rejected": d(
                self.lake.path(
                    "rejected", manifest.dataset, f"date={day}", f"run_id={manifest.run_id}"
                )
            ),
            "reports": d(reports),
            "manifest": d(manifest_path),
            "warehouse": str(self.settings.warehouse.absolute()),
            "table": manifest.dataset,
        }

    def _record_run(self, wh: DuckDBWarehouse, m: Manifest) -> None:
        wh.con.execute(
            "INSERT OR REPLACE INTO meta.runs VALUES ($run_id, $dataset, $status, $started, "
            "$finished, $input, $valid, $rejected, $duplicates, $lake, $error, $manifest)",
            {
                "run_id": m.run_id,
                "dataset": m.dataset,
                "status": m.status,
                "started": m.started_at,
                "finished": m.finished_at,
                "input": m.counts.input,
                "valid": m.counts.valid,
                "rejected": m.counts.rejected,
                "duplicates": m.counts.duplicates,
                "lake": self.lake.uri,
                "error": m.error,
                "manifest": m.model_dump_json(),
            },
        )

    def _record_failure(self, wh: DuckDBWarehouse, m: Manifest, exc: BaseException) -> None:
        m.status = "failed"
        m.finished_at = datetime.now(UTC)
        m.error = str(exc) if isinstance(exc, TracklineError) else f"{type(exc).__name__}: {exc}"
        try:
            self._record_run(wh, m)
        except Exception:  # the original error matters more than the bookkeeping
            log.exception("run.record_failure_failed run_id=%s", m.run_id)


def _same_key(keys: list[str], a: str, b: str) -> str:
    """SQL saying rows `a` and `b` have the same key (NULL matches NULL)."""
    return " AND ".join(f"{a}.{ident(k)} IS NOT DISTINCT FROM {b}.{ident(k)}" for k in keys)


def _partition_exprs(contract: Contract, *, alias: bool = True, stream: bool = False) -> list[str]:
    """SQL for the Hive partition values of a contract's curated files.

    With `stream`, a day is a DATE (the curated sink names it, see `CuratedSink`), counted
    from the epoch in whole microseconds: 0.09 CPU-seconds less per million rows on the
    kernel's one thread than a cast through the time zone to text. A day out of the DATE
    range comes out NULL, which sends the run's curated files the table route.
    """
    exprs = []
    for p in contract.partitions:
        col = ident(p.field)
        if p.transform == "identity" and alias:
            continue  # the column itself (a second one of the same name would be renamed)
        if p.transform == "day" and stream:
            us = f"epoch_us({col})"
            days = f"{us} // {_DAY_US} - CASE WHEN {us} % {_DAY_US} < 0 THEN 1 ELSE 0 END"
            expr = f"DATE '1970-01-01' + TRY_CAST({days} AS INTEGER)"
        elif p.transform == "day":  # the same text as strftime '%Y-%m-%d', at half the cost
            expr = f"CAST(CAST({col} AS DATE) AS VARCHAR)"
        elif p.transform == "month":
            expr = f"strftime({col}, '%Y-%m')"
        else:
            expr = f"CAST({col} AS VARCHAR)"
        exprs.append(f"{expr} AS {ident(p.column)}" if alias else expr)
    return exprs


def _without_source(data: Any) -> Any:
    """A reader's schema or batch without its `_source_file` column (see `_load_file`)."""
    if isinstance(data, pa.Schema):
        i = data.get_field_index("_source_file")
        return data if i < 0 else data.remove(i)
    return data.drop_columns(["_source_file"]) if "_source_file" in data.schema.names else data


def _json(obj: Any) -> str:
    import json

    return json.dumps(obj, default=str)


@dataclass
class _Checked:
    """A file's checked batches as the kernel produces them (see `LocalEngine._checking`)."""

    source: str
    derived_types: dict[str, str]
    schema: pa.Schema
    batches: Prefetcher[pa.RecordBatch]
    fast: bool = False  # read by DuckDB (`Kernel.file_program`): rejected rows lack their text
    scan: LineScan | None = None  # for a fast read: the file's lines, which must be its rows


def _reads_fast(scan: LineScan | None) -> bool:
    return scan is not None and scan.fast and scan.size > 0


def _with_scan(checked: _Checked, scan: LineScan | None) -> _Checked:
    return replace(checked, scan=scan) if checked.fast else checked


class _Realign(Exception):
    """A fast read turned out not to match the general reader: read the run again."""


def _realigning(checked: _Checked, realign: list[_Realign]) -> Iterator[pa.RecordBatch]:
    """A file's checked batches; on a fast read, DuckDB failing to read the file (rather than
    a line of it) means the general reader should have it."""
    try:
        yield from checked.batches
    except duckdb.Error as exc:
        if not checked.fast:
            raise
        realign.append(_Realign(f"DuckDB could not read the file: {exc}"))
        raise realign[-1] from None


class _FastText:
    """Completes the rejected rows of a file read by DuckDB (`Kernel.file_program`): each
    one's text as received, and for a line DuckDB could not parse, the general kernel's
    reasons for it (malformed, not an object, or an object with none of the fields)."""

    def __init__(
        self, contract: Contract, settings: Settings, uri: str, scan: LineScan, now: datetime
    ) -> None:
        self.contract, self.settings, self.now = contract, settings, now
        self.picker = LinePicker(uri, scan)
        self._kernel: Kernel | None = None
        self._pending: list[pa.RecordBatch] = []
        self._rows = 0

    def add(self, bad: pa.RecordBatch) -> list[pa.RecordBatch]:
        """Take a batch's rejected rows; the completed ones come back once
        `REJECTED_BATCH_ROWS` have gathered (one read of their text and one query for the
        lines DuckDB could not parse, for several batches: each query costs 2-4 ms)."""
        self._pending.append(bad)
        self._rows += bad.num_rows
        return self.flush() if self._rows >= REJECTED_BATCH_ROWS else []

    def flush(self) -> list[pa.RecordBatch]:
        """The rows still gathered, completed (at the end of the file)."""
        if not self._pending:
            return []
        rows = pa.Table.from_batches(self._pending).combine_chunks()
        self._pending, self._rows = [], 0
        return [self.complete(b) for b in rows.to_batches()]

    def complete(self, bad: pa.RecordBatch) -> pa.RecordBatch:
        lines = bad.column("_source_line").to_numpy(zero_copy_only=False)
        try:
            texts, malformed = self.picker.take(lines)
        except LookupError as exc:
            raise _Realign(str(exc)) from None
        errors = bad.column("_errors")
        detail = bad.column("_detail")
        unparsed = pc.fill_null(pc.equal(detail, UNPARSED), False)
        if (
            malformed.null_count < len(malformed)
            and pc.any(pc.and_(pc.is_valid(malformed), pc.invert(unparsed))).as_py()
        ):
            raise _Realign("a line DuckDB parsed is not UTF-8")
        again = np.flatnonzero(unparsed.to_numpy(zero_copy_only=False))
        if len(again):
            errors, detail = self._unparsed(texts, malformed, errors, detail, unparsed, again)
        names = bad.schema.names
        columns = list(bad.columns)
        columns[names.index("_record")] = texts
        columns[names.index("_errors")] = errors
        columns[names.index("_detail")] = detail
        return pa.RecordBatch.from_arrays(columns, schema=bad.schema)

    def _unparsed(
        self,
        texts: pa.Array,
        malformed: pa.Array,
        errors: pa.Array,
        detail: pa.Array,
        unparsed: pa.Array,
        again: np.ndarray,
    ) -> tuple[pa.Array, pa.Array]:
        """The reasons and detail of the lines DuckDB could not parse (`again`), put in place.

        Almost always malformed: one small query says why. A JSON object with none of the
        fields (rare) goes through the whole program, for its exact reasons.
        """
        raw = texts.take(again)
        problems = self.kernel.json_problems(raw, malformed.take(again)).to_pylist()
        reasons: list[list[str] | None] = [["malformed"] if p else None for p in problems]
        details: list[str | None] = list(problems)
        objects = [j for j, p in enumerate(problems) if p is None]
        if objects:
            result = self.kernel.run(
                pa.table({"_raw": raw.take(objects)}), now=self.now, dedup=False
            )
            if result.valid.num_rows:
                raise _Realign("a line DuckDB could not parse is a valid record")
            for j, r, d in zip(
                objects,
                result.rejected.column("reasons").to_pylist(),
                result.rejected.column("detail").to_pylist(),
                strict=True,
            ):
                reasons[j], details[j] = r, d
        # spread over the batch's rows (null elsewhere), then take those rows' values
        where = np.full(len(texts), -1, np.int64)
        where[again] = np.arange(len(again))
        at = pa.array(where, mask=where < 0)
        new_errors = pa.array(reasons, errors.type).take(at)
        new_detail = pa.array(details, pa.string()).take(at)
        return (
            pc.if_else(unparsed, new_errors, errors),
            pc.if_else(unparsed, new_detail, detail),
        )

    @property
    def kernel(self) -> Kernel:
        if self._kernel is None:
            self._kernel = Kernel(
                self.contract,
                future_tolerance_seconds=self.settings.future_tolerance_seconds,
                threads=1,
            )
        return self._kernel

    def close(self) -> None:
        self.picker.close()
        if self._kernel is not None:
            self._kernel.close()


class _RejectedSink:
    """Rejected rows, written to their Parquet file in the lake as they are found."""

    def __init__(self, lake: Lake, path: str) -> None:
        self.lake, self.path = lake, path
        self.rows = 0
        self.reasons: dict[str, int] = {}
        self._out: Any = None
        self._writer: pq.ParquetWriter | None = None
        self.stored = StoredFile(path, 0, 0, "")

    def __enter__(self) -> _RejectedSink:
        self.lake.fs.makedirs(posixpath.dirname(self.path), exist_ok=True)
        self._out = self.lake.fs.open(self.path, "wb")
        self._writer = pq.ParquetWriter(self._out, REJECTED_SCHEMA)
        return self

    def write(self, checked: pa.RecordBatch, source_file: str) -> None:
        assert self._writer is not None
        batch = pa.RecordBatch.from_arrays(
            [
                checked.column("_record"),
                checked.column("_errors"),
                checked.column("_detail"),
                pa.repeat(pa.scalar(source_file, pa.string()), checked.num_rows),
                checked.column("_source_line"),
            ],
            schema=REJECTED_SCHEMA,
        )
        self._writer.write_batch(batch)
        self.rows += batch.num_rows
        for reason, n in count_reasons(batch.column("reasons")).items():
            self.reasons[reason] = self.reasons.get(reason, 0) + n

    def __exit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._out is not None:
            self._out.close()
        if exc[0] is None:
            self.stored = self.lake.stored(self.path, self.rows)


class _Dedup:
    """First-occurrence dedup of a run's valid rows while they stream into the table.

    `keep` marks the rows whose key hash is new to the run; rows whose hash was seen are set
    aside in a temporary Parquet file (memory stays flat however many repeats there are) for
    `LocalEngine._settle` to decide by exact key.
    """

    def __init__(self, contract: Contract) -> None:
        self.columns = [*contract.output_columns, *LINEAGE]
        self.seen = SeenKeys()
        self.kept = self.inserted = self.suspect_rows = self.late = 0
        self._position = 0  # stream order across all files: file order, then line
        self.ordered = True  # rows arrived in file and line order (DuckDB keeps it; checked)
        self._last: tuple[str, int] = ("", 0)
        self._file: Any = None
        self._writer: pq.ParquetWriter | None = None

    def keep(self, batch: pa.RecordBatch, valid: pa.Array, source_file: str) -> pa.Array:
        """Which rows to load: the valid ones whose key is new (all valid ones once the
        stream was seen out of order)."""
        n = batch.num_rows
        valid_np = valid.to_numpy(zero_copy_only=False)
        if self.ordered:
            self._check_order(batch, source_file)
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
            self._spill(batch, repeats, source_file)
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

    def _spill(self, batch: pa.RecordBatch, rows: np.ndarray, source_file: str) -> None:
        taken = batch.select([c for c in self.columns if c != "_source_file"]).take(rows)
        source = pa.repeat(pa.scalar(source_file, pa.string()), len(rows))
        out = pa.RecordBatch.from_arrays(
            [source if c == "_source_file" else taken.column(c) for c in self.columns]
            + [pa.array(rows + self._position, pa.int64())],
            names=[*self.columns, "_order"],
        )
        if self._writer is None:
            self._file = tempfile.TemporaryFile(prefix="trackline-repeats-")  # noqa: SIM115
            self._writer = pq.ParquetWriter(self._file, out.schema)
        self._writer.write_batch(out)
        self.suspect_rows += len(rows)

    def loaded(self, rows: int) -> None:
        self.inserted += rows

    @property
    def exact(self) -> bool:
        """The rows kept on the way are exactly the rows loaded: none was left out as known
        to the warehouse, none was loaded late, none dropped as an out-of-order repeat."""
        return self.ordered and self.late == 0 and self.inserted == self.kept

    @contextmanager
    def suspects(self) -> Iterator[pa.RecordBatchReader | None]:
        if self._writer is None:
            yield None
            return
        self._writer.close()
        self._writer = None
        self._file.seek(0)
        pf = pq.ParquetFile(self._file)
        yield pa.RecordBatchReader.from_batches(pf.schema_arrow, pf.iter_batches())

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._file is not None:
            self._file.close()


@contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = round(timings.get(step, 0.0) + time.perf_counter() - start, 4)
