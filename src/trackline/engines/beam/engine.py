"""The Beam batch engine: the local engine's stages around a Beam pipeline.

plan (inputs, hashes, run id; an identical run done before is "already done") -> land (raw
copies, beside the pipeline) -> the pipeline (`batch.py`: read, kernel, dedup by key, staged
files) -> load (`staged.py`: keys an earlier run loaded left out) -> rejected rows, reports,
curated Parquet (the partition writer's names, from the table), run record -> commit ->
manifest. The warehouse transaction, the run id, the counts' check and the lake layout are
the local engine's, so a Beam run and a local run of the same inputs give the same result.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from trackline.config import Settings
from trackline.contracts.kernel import Kernel
from trackline.contracts.loader import ContractRegistry
from trackline.contracts.spec import Contract
from trackline.core.dialect import ident
from trackline.core.progress import NullReporter, Reporter
from trackline.engines.beam.options import RunnerOptions, require_beam
from trackline.engines.beam.ranges import CutLines, ranges
from trackline.engines.sinks.curated import CuratedSink
from trackline.engines.sinks.rejected import RejectedRows, into_meta
from trackline.engines.sinks.warehouse import RunWarehouse, open_run_warehouse
from trackline.engines.stages import plan, record
from trackline.engines.stages.land import land
from trackline.engines.stages.record import RunLayout, RunResult
from trackline.engines.stages.report import write_reports
from trackline.errors import AccountingError
from trackline.lake import Lake
from trackline.runs.manifest import Counts, Manifest
from trackline.sources.base import InputFile

__all__ = ["BeamEngine"]

log = logging.getLogger("trackline.engine")


class BeamEngine:
    """Runs batch ingests as Apache Beam pipelines (DirectRunner here, Dataflow, Flink...)."""

    def __init__(
        self,
        settings: Settings,
        *,
        contracts: ContractRegistry | None = None,
        reporter: Reporter | None = None,
        runner: RunnerOptions | None = None,
        split_bytes: int = 32 << 20,
    ) -> None:
        require_beam()
        self.split_bytes = split_bytes  # a plain NDJSON file is read in ranges of this size
        self.settings = settings
        self.contracts = contracts or ContractRegistry(settings.contracts_dir)
        self.reporter = reporter or NullReporter()
        self.runner = runner or RunnerOptions()
        self.lake = Lake(settings.lake)
        self.metrics: dict[str, int] = {}  # the last pipeline's counters
        self._newlines: dict[str, dict[int, int]] = {}  # the plan's `CutLines.before` by input

    def ingest(
        self,
        paths: Sequence[str],
        dataset: str,
        *,
        force: bool = False,
        now: datetime | None = None,
    ) -> RunResult:
        contract = self.contracts.get(dataset)
        files = plan.resolve(paths)
        started = now or datetime.now(UTC)
        timings: dict[str, float] = {}
        s = self.settings
        s.ensure_home()
        wh = open_run_warehouse(s)
        try:
            split = {f.uri: ranges(f, self.split_bytes) for f in files}
            cuts = {u: CutLines([a for a, _ in r]) for u, r in split.items() if len(r) > 1}
            with _timed(timings, "hash"):  # the same pass counts the newlines before each cut
                hashed = plan.hash_inputs(
                    files,
                    scan_lines=False,
                    threads=s.duckdb_threads,
                    copy_to=lambda f: cuts.get(f.uri),
                )
            self._newlines = {uri: c.before for uri, c in cuts.items()}
            manifest = plan.new_manifest(s, contract, files, hashed, started, force=force)
            previous = wh.previous(manifest.run_id)
            if previous is not None:
                record.republish(self.lake, previous)
                return record.skipped(self.lake, s, previous)
            log.info(
                "run.start run_id=%s dataset=%s inputs=%d engine=beam runner=%s",
                manifest.run_id,
                dataset,
                len(files),
                self.runner.runner,
            )
            return self._run(wh, contract, files, manifest, timings)
        finally:
            wh.close()

    def _run(
        self,
        wh: RunWarehouse,
        contract: Contract,
        files: list[InputFile],
        manifest: Manifest,
        timings: dict[str, float],
    ) -> RunResult:
        from trackline.engines.beam import staged as st

        layout = RunLayout.of(self.lake, manifest)
        staging = self.lake.path("_staging", f"{manifest.run_id}-{uuid.uuid4().hex[:8]}")
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trackline-land")
        landing = pool.submit(self._land, files, manifest, layout.raw, timings)
        con = wh.con
        s, run_id, now = self.settings, manifest.run_id, manifest.started_at
        rejected_sink: RejectedRows | None = None
        curated = CuratedSink(self.lake, contract, run_id=run_id, ingestion_time=now)
        try:
            with _timed(timings, "validate"), self.reporter.task("running the Beam pipeline"):
                staged = self._pipeline(contract, files, now, staging)
            kernel = Kernel(contract, future_tolerance_seconds=s.future_tolerance_seconds)
            try:
                types = st.derived_types(contract, kernel)
            finally:
                kernel.close()
            landing.result()
            counts = Counts()
            con.execute("BEGIN TRANSACTION")
            try:
                wh.ensure_table(contract, types)
                with _timed(timings, "dedup"):
                    st.load_valid(
                        wh, contract, staged, self.lake.fs, run_id=run_id, now=now, counts=counts
                    )
                with _timed(timings, "rejected"):
                    rejected_sink = RejectedRows(self.lake, layout.rejected_file)
                    st.write_rejected(rejected_sink, staged, self.lake.fs)
                    [rejected] = rejected_sink.finish()
                    into_meta(
                        con,
                        self.lake,
                        rejected,
                        run_id=run_id,
                        dataset=manifest.dataset,
                        now=now,
                        batch_rows=s.batch_rows,
                    )
                counts.rejected = rejected_sink.rows
                counts.rejected_by_reason = rejected_sink.by_reason()
                self._conserved(counts)
                manifest.counts = counts
                with _timed(timings, "reports"):
                    reports = write_reports(con, self.lake, s, contract, manifest, layout.reports)
                with _timed(timings, "curated"):
                    table = f"main.{ident(contract.name)}"
                    files_out = curated.export(con, table, batch_rows=s.batch_rows)
                outputs = {"rejected": [rejected], "curated": files_out, "reports": reports}
                result = record.done(con, self.lake, s, manifest, outputs, timings)
                with _timed(timings, "commit"):
                    wh.commit()
            except BaseException:
                con.execute("ROLLBACK")
                raise
        except BaseException as exc:
            if rejected_sink is not None:
                rejected_sink.abort()
            record.failed(con, self.lake.uri, manifest, exc)
            try:
                curated.discard()
                record.withdraw(self.lake, manifest)
            except Exception:
                log.exception("run.withdraw_failed run_id=%s", run_id)
            raise
        finally:
            pool.shutdown(wait=True)
            self._remove(staging)
        record.publish(self.lake, result)
        log.info(
            "run.done run_id=%s dataset=%s engine=beam %s",
            run_id,
            manifest.dataset,
            result.message.replace(", ", " "),
        )
        return result

    def _pipeline(
        self, contract: Contract, files: list[InputFile], now: datetime, staging: str
    ) -> Any:
        """Run the pipeline to its end; the files it staged (checked to exist)."""
        import apache_beam as beam

        from trackline.engines.beam import batch
        from trackline.engines.beam.staged import Staged

        s = self.settings
        job = batch.BatchJob(
            contract=contract,
            files=files,
            now=now,
            staging=self.lake.display(staging),
            tolerance=s.future_tolerance_seconds,
            batch_rows=s.batch_rows,
            threads=None if self.runner.direct and self.runner.workers == 1 else 1,
            split_bytes=self.split_bytes,
            newlines=self._newlines,
        )
        p = beam.Pipeline(runner=self.runner.batch_runner(), options=self.runner.pipeline_options())
        batch.build(p, job)
        result: Any = p.run()
        state = result.wait_until_finish()
        if str(state) not in ("DONE", "PipelineState.DONE"):
            raise AccountingError(f"the Beam pipeline ended {state}, not DONE: nothing loaded")
        self.metrics = _counters(result)
        return Staged.of(batch.read_listing(job.listing), self.lake.fs)

    def _conserved(self, counts: Counts) -> None:
        """The input is what the pipeline read (its counter; where a runner keeps no counters,
        what it staged), and it must be valid + rejected + duplicates."""
        staged = counts.valid + counts.rejected + counts.duplicates
        counts.input = self.metrics.get("input", staged)
        counts.check()

    def _land(
        self, files: list[InputFile], manifest: Manifest, raw_dir: str, timings: dict[str, float]
    ) -> None:
        with _timed(timings, "land"):
            land(self.lake, files, manifest, raw_dir)

    def _remove(self, staging: str) -> None:
        try:
            self.lake.remove(staging)
        except Exception:  # leftovers of a staging folder claim nothing
            log.warning("beam.staging_left path=%s", self.lake.display(staging))


def _counters(result: Any) -> dict[str, int]:
    """The pipeline's trackline counters (committed values; none where the runner keeps none)."""
    from apache_beam.metrics.metric import MetricsFilter

    try:
        queried = result.metrics().query(MetricsFilter().with_namespace("trackline"))
    except (NotImplementedError, AttributeError):
        return {}
    out: dict[str, int] = {}
    for c in queried.get("counters", []):
        value = c.committed if c.committed is not None else c.attempted
        out[c.key.metric.name] = out.get(c.key.metric.name, 0) + int(value or 0)
    return out


@contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = round(timings.get(step, 0.0) + time.perf_counter() - start, 4)
