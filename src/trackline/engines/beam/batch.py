"""The batch pipeline's graph: read every input, check it with the kernel, dedup by key, stage.

```
 (index, file) ─► ReadFile ─► Reshuffle ─► CheckBatch ─┬─► rejected ─────────────► WriteStaged
                                                       └─► (bucket, valid) ─► GroupByKey
                                                            ─► FirstPerKey ─► WriteStaged
 staged (kind, uri, rows) ─► ToList ─► the listing (`_staged.json`): every file to read
```

The Reshuffle spreads one big file's batches over the workers (the read is one DoFn call per
file; the kernel is the work). The engine (`engine.py`) plans and lands before the pipeline,
and loads the listed files into the warehouse after it, with the same stages as the local
engine, so both give the same rows, rejected rows, manifest and reports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import apache_beam
import fsspec

from trackline.contracts.spec import Contract
from trackline.engines.beam.dofns import CheckBatch, FirstPerKey, ReadFile, WriteStaged
from trackline.sources.base import InputFile

beam: Any = apache_beam  # untyped: one Any, not an ignore per call

LISTING = "_staged.json"


@dataclass(frozen=True)
class BatchJob:
    """What one batch pipeline checks, and where it stages what it found."""

    contract: Contract
    files: list[InputFile]
    now: datetime
    staging: str  # a URI every worker can write (the lake's staging folder)
    tolerance: int = 300
    batch_rows: int = 65_536
    buckets: int = 16  # key buckets: the dedup's unit of work
    threads: int | None = 1  # DuckDB threads per DoFn instance

    @property
    def listing(self) -> str:
        return f"{self.staging.rstrip('/')}/{LISTING}"


def build(p: Any, job: BatchJob) -> None:
    """Add the batch job's steps to pipeline `p` (constructed here, run by the caller)."""
    checked = (
        p
        | "Inputs" >> beam.Create(list(enumerate(job.files)), reshuffle=False)
        | "Read" >> beam.ParDo(ReadFile(job.batch_rows))
        | "Spread" >> beam.Reshuffle()
        | "Check"
        >> beam.ParDo(
            CheckBatch(
                job.contract,
                now=job.now,
                tolerance=job.tolerance,
                buckets=job.buckets,
                threads=job.threads,
            )
        ).with_outputs("rejected", main="valid")
    )
    valid = (
        checked.valid
        | "ByKeyBucket" >> beam.GroupByKey()
        | "FirstPerKey" >> beam.ParDo(FirstPerKey(job.contract.key_columns, job.threads))
        | "StageValid" >> beam.ParDo(WriteStaged(job.staging, "valid"))
    )
    rejected = checked.rejected | "StageRejected" >> beam.ParDo(
        WriteStaged(job.staging, "rejected")
    )
    _ = (
        (valid, rejected)
        | "Staged" >> beam.Flatten()
        | "AllStaged" >> beam.combiners.ToList()
        | "List" >> beam.Map(write_listing, job.listing)
    )


def write_listing(staged: list[tuple[str, str, int]], uri: str) -> None:
    """The staged files of committed bundles, for the engine to read (and check they exist)."""
    body = [{"kind": k, "uri": u, "rows": n} for k, u, n in sorted(staged)]
    with fsspec.open(uri, "w", auto_mkdir=True) as fh:
        json.dump(body, fh)


def read_listing(uri: str) -> list[dict[str, Any]]:
    with fsspec.open(uri, "r") as fh:
        listed: list[dict[str, Any]] = json.load(fh)
    return listed
