"""A stream's run record: the batch engine's record stage (`meta.runs` and a manifest), kept
current with every micro-batch, in that batch's own transaction.

A stream run is one `trackline stream` process: its run id is the one its rows carry. While it
runs its record says `running`, with the counts committed so far; a clean stop marks it `done`
(and writes its manifest to the lake), a failure `failed` with the reason. A process killed
outright leaves `running` with the counts of its last committed batch, which is the truth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from trackline import __version__
from trackline.config import Settings
from trackline.contracts.spec import Contract
from trackline.engines.stages import record
from trackline.lake import Lake
from trackline.runs.manifest import Counts, Manifest


class StreamRecord:
    """The manifest of one stream run, counted as its batches commit."""

    def __init__(
        self,
        settings: Settings,
        lake: Lake,
        run_id: str,
        topic: str,
        contracts: Mapping[str, Contract],
    ) -> None:
        self.lake = lake
        self.manifest = Manifest(
            run_id=run_id,
            dataset=topic,
            contract={
                "name": "stream",
                "topic": topic,
                "event_types": {
                    t: {"version": c.version, "digest": c.digest}
                    for t, c in sorted(contracts.items())
                },
            },
            config_hash=settings.fingerprint(),
            package_version=__version__,
            started_at=datetime.now(UTC),
        )

    def counted(
        self,
        events: int,
        valid: int,
        rejected: int,
        in_batch: int,
        in_warehouse: int,
        reasons: Mapping[str, int],
    ) -> Manifest:
        """The manifest with one more batch's counts added (checked: in = valid + rejected +
        duplicates), ready to record in that batch's transaction."""
        c = self.manifest.counts
        by_reason = dict(c.rejected_by_reason)
        for reason, n in reasons.items():
            by_reason[reason] = by_reason.get(reason, 0) + n
        counts = Counts(
            input=c.input + events,
            valid=c.valid + valid,
            rejected=c.rejected + rejected,
            duplicates=c.duplicates + in_batch + in_warehouse,
            duplicates_in_input=c.duplicates_in_input + in_batch,
            duplicates_in_warehouse=c.duplicates_in_warehouse + in_warehouse,
            rejected_by_reason=dict(sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))),
        )
        counts.check()
        return self.manifest.model_copy(update={"counts": counts})

    def write(self, con: duckdb.DuckDBPyConnection, manifest: Manifest) -> None:
        """Record `manifest` (in the caller's transaction); it becomes the run's state."""
        record.record_run(con, self.lake.uri, manifest)
        self.manifest = manifest

    def metrics(
        self,
        con: duckdb.DuckDBPyConnection,
        counts: Mapping[str, int],
        seconds: float,
        lag: int | None,
        latencies: Sequence[float],
    ) -> None:
        """One row of `meta.stream_metrics` for this batch (in its transaction): its counts,
        processing seconds, the bus's lag and the batch's publish-to-commit p50/p99, so the
        dashboard shows the stream's own figures over time."""
        p50 = p99 = None
        if latencies:
            q = pc.quantile(pa.array(latencies, pa.float64()), q=[0.5, 0.99]).to_pylist()
            p50, p99 = round(q[0] * 1000, 1), round(q[1] * 1000, 1)
        con.execute(
            "INSERT INTO meta.stream_metrics VALUES "
            "($run, $topic, $at, $events, $valid, $rejected, $dup, $seconds, $lag, $p50, $p99)",
            {
                "run": self.manifest.run_id,
                "topic": self.manifest.dataset,
                "at": datetime.now(UTC),
                "events": counts["events"],
                "valid": counts["valid"],
                "rejected": counts["rejected"],
                "dup": counts["duplicates"],
                "seconds": round(seconds, 4),
                "lag": lag,
                "p50": p50,
                "p99": p99,
            },
        )

    def end(self, con: duckdb.DuckDBPyConnection, error: BaseException | None) -> None:
        """Mark the run done (its manifest written to the lake too) or failed."""
        m = self.manifest
        if error is not None:
            record.failed(con, self.lake.uri, m, error)
            return
        m.status = "done"
        m.finished_at = datetime.now(UTC)
        record.record_run(con, self.lake.uri, m)
        self.lake.write_json(
            self.lake.path("manifests", f"{m.run_id}.json"), m.model_dump(mode="json")
        )
