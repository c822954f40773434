"""A pipeline with no API behind it: each member gets generated plays (`listens`), ingested
by the local engine. For trying the worker offline and for benchmarks of the worker itself.

The file is a pure function of the member and the day, so running a session again (after a
crash) produces the same file, which the engine recognises and adds nothing twice.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

from trackline.config import Settings
from trackline.contracts.loader import ContractRegistry
from trackline.engines.local import LocalEngine
from trackline.errors import TracklineError
from trackline.generate.generator import labelled_records
from trackline.pipelines.base import UserOutcome
from trackline.state import StateStore

DATASET = "listens"
_INGEST_LOCK = threading.Lock()  # DuckDB: one writer per file, so one ingest at a time


class GeneratedPipeline:
    def __init__(
        self,
        settings: Settings,
        *,
        count: int = 200,
        invalid_share: float = 0.05,
        delay_seconds: float = 0.0,
    ) -> None:
        self.count = count
        self.invalid_share = invalid_share
        self.delay_seconds = delay_seconds  # stands in for time spent waiting on an API
        self.contracts = ContractRegistry(settings.contracts_dir)

    def __call__(self, settings: Settings, store: StateStore, user_id: str) -> UserOutcome:
        start = time.perf_counter()
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        try:
            path = self._write(settings, user_id)
            with _INGEST_LOCK:
                run = LocalEngine(settings, contracts=self.contracts).ingest([str(path)], DATASET)
        except TracklineError as exc:
            return UserOutcome(user_id, "failed", f"could not ingest generated plays: {exc}")
        c = run.manifest.counts
        added = 0 if run.skipped else c.valid
        outcome = UserOutcome(
            user_id,
            "ok",
            runs={f"generated/{DATASET}": run.manifest.run_id},
            added=added,
            rejected=0 if run.skipped else c.rejected,
            duplicates=c.input if run.skipped else c.duplicates,
            providers={"generated": "ok"},
        )
        if c.input == 0:
            outcome.status, outcome.message = "empty", "no records to ingest"
        elif c.valid == 0 and not run.skipped:
            outcome.status = "no_valid_rows"
            outcome.message = (
                f"all {c.rejected} records were rejected by the {DATASET} contract; "
                f"see `trackline runs show {run.manifest.run_id}`"
            )
        elif run.skipped:
            outcome.message = "these records were ingested before; nothing added"
        elif c.rejected:
            outcome.message = f"{c.rejected} records rejected (kept in meta.rejected)"
        outcome.seconds = time.perf_counter() - start
        return outcome

    def _write(self, settings: Settings, user_id: str) -> Path:
        day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        seed = zlib.crc32(user_id.encode())
        folder = settings.home / "generated" / f"{day:%Y-%m-%d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{seed:08x}-{self.count}-{self.invalid_share}.ndjson"
        if path.exists():
            return path
        contract = self.contracts.get(DATASET)
        lines = []
        for item in labelled_records(
            contract, self.count, invalid_share=self.invalid_share, seed=seed, now=day
        ):
            record = item.record
            if isinstance(record, dict):
                if isinstance(record.get("user_id"), str) and record["user_id"]:
                    record = {**record, "user_id": user_id}  # invalid ids stay invalid
                record = json.dumps(record, default=str)
            lines.append(record)
        tmp = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(path)
        return path
