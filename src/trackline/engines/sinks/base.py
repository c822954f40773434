"""The protocol every sink follows, so an engine can hand checked rows to any of them."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import pyarrow as pa

from trackline.lake import StoredFile


@runtime_checkable
class Sink(Protocol):
    """Stores checked rows. Rows come in batches, each batch from one input (`source`: an
    input file's URI, a bus message's id); `finish` ends the writing and names the files
    stored (none for a table, which commits with its transaction); `abort` stops it when the
    run fails, keeping nothing it would have reported."""

    def write(self, rows: pa.RecordBatch, source: str) -> None: ...

    def finish(self) -> list[StoredFile]: ...

    def abort(self) -> None: ...
