"""The batch pipeline's graph: read every input, check it with the kernel, dedup by key, stage.

```
 (index, file, byte range) ─► [Reshuffle] ─► ReadFile ─► CheckBatch ─┬─► rejected ─► WriteStaged
                                                                     ├─► valid ────► WriteStaged
                                                                     └─► (bucket, keys)
     ─► GroupByKey ─► FirstPerKey (first by file and line, copies) ─► WriteStaged
 staged (kind, uri, rows) ─► ToList ─► the listing (`_staged.json`): every file to read
```

A big plain NDJSON file is read as byte ranges (`ranges.py`), one element each, spread over
the workers with the check fused to the read, so no text crosses between processes; only a
big file that cannot be split (gzip, CSV, Parquet, a JSON array) has its batches reshuffled
to the workers. Only the valid rows' keys, with file and line, go through the GroupByKey.

The engine (`engine.py`) plans and lands before the pipeline, and loads the listed files into
the warehouse after it, with the same stages as the local engine, so both give the same rows,
rejected rows, manifest and reports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import apache_beam
import fsspec

from trackline.contracts.spec import Contract
from trackline.engines.beam.dofns import CheckBatch, FirstPerKey, ReadFile, WriteStaged
from trackline.engines.beam.ranges import ranges
from trackline.lake.store import storage_options
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
    split_bytes: int = 32 << 20  # a plain NDJSON file is read in ranges of about this size
    threads: int | None = 1  # DuckDB threads per DoFn instance
    newlines: dict[str, dict[int, int]] = field(default_factory=dict)  # uri -> CutLines.before

    @property
    def listing(self) -> str:
        return f"{self.staging.rstrip('/')}/{LISTING}"


def build(p: Any, job: BatchJob) -> None:
    """Add the batch job's steps to pipeline `p` (constructed here, run by the caller)."""
    inputs = [
        (i, f, start, end, job.newlines.get(f.uri, {}).get(start))
        for i, f in enumerate(job.files)
        for start, end in ranges(f, job.split_bytes)
    ]
    spread = any(end is None and f.size > job.split_bytes for _, f, _, end, _ in inputs)
    read = (
        p
        | "Inputs" >> beam.Create(inputs)  # reshuffled: the ranges spread over the workers
        | "Read" >> beam.ParDo(ReadFile(job.batch_rows))
    )
    if spread:  # a big file read whole: its batches go to every worker
        read = read | "Spread" >> beam.Reshuffle()
    checked = read | "Check" >> beam.ParDo(
        CheckBatch(
            job.contract,
            now=job.now,
            tolerance=job.tolerance,
            buckets=job.buckets,
            threads=job.threads,
        )
    ).with_outputs("rejected", "valid", main="keys")
    first = (
        checked.keys
        | "ByKeyBucket" >> beam.GroupByKey()
        | "FirstPerKey" >> beam.ParDo(FirstPerKey(job.contract.key_columns, job.threads))
        | "StageFirst" >> beam.ParDo(WriteStaged(job.staging, "first"))
    )
    valid = checked.valid | "StageValid" >> beam.ParDo(WriteStaged(job.staging, "valid"))
    rejected = checked.rejected | "StageRejected" >> beam.ParDo(
        WriteStaged(job.staging, "rejected")
    )
    _ = (
        (first, valid, rejected)
        | "Staged" >> beam.Flatten()
        | "AllStaged" >> beam.combiners.ToList()
        | "List" >> beam.Map(write_listing, job.listing)
    )


def write_listing(staged: list[tuple[str, str, int]], uri: str) -> None:
    """The staged files of committed bundles, for the engine to read (and check they exist)."""
    body = [{"kind": k, "uri": u, "rows": n} for k, u, n in sorted(staged)]
    storage_options(uri)  # runs on a worker: gs:// as the driver opens it
    with fsspec.open(uri, "w", auto_mkdir=True) as fh:
        json.dump(body, fh)


def read_listing(uri: str) -> list[dict[str, Any]]:
    with fsspec.open(uri, "r") as fh:
        listed: list[dict[str, Any]] = json.load(fh)
    return listed
