"""The fetch spool: what a connector fetched, as NDJSON per dataset, on local disk under the
home before anything touches the lake.

A batch is one user's fetch: `<home>/spool/<provider>/<user>/<batch>/<dataset>.ndjson` plus
`batch.json`. Ingesting a dataset file deletes it; a batch whose files all went in is removed.
When the lake or warehouse is unreachable the files simply stay, and `trackline spool flush`
replays them later: nothing fetched is lost, and replays are idempotent (content-based run ids
and primary-key dedup).
"""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from trackline.config import Settings
from trackline.core.names import check_name


def spool_root(settings: Settings) -> Path:
    return settings.home / "spool"


@dataclass
class Batch:
    """One user's fetched records on disk, one NDJSON file per dataset."""

    path: Path
    provider: str
    user_id: str
    counts: dict[str, int] = field(default_factory=dict)
    _files: dict[str, IO[str]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def create(cls, settings: Settings, provider: str, user_id: str) -> Batch:
        check_name(provider, "spool provider")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = spool_root(settings) / provider / _safe(user_id) / f"{stamp}-{uuid.uuid4().hex[:8]}"
        path.mkdir(parents=True, exist_ok=True)
        batch = cls(path, provider, user_id)
        batch._write_meta()
        return batch

    @classmethod
    def load(cls, path: Path) -> Batch:
        meta = json.loads((path / "batch.json").read_text())
        return cls(path, meta["provider"], meta["user_id"], dict(meta.get("counts", {})))

    def _write_meta(self) -> None:
        meta = {"provider": self.provider, "user_id": self.user_id, "counts": self.counts}
        (self.path / "batch.json").write_text(json.dumps(meta))

    def write(self, dataset: str, records: list[dict[str, Any]]) -> None:
        lines = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records)
        self._append(dataset, lines, len(records))

    def write_malformed(self, dataset: str, body: str) -> None:
        """A response that is not JSON becomes one line the contract rejects as `malformed`,
        with its text kept (newlines folded so it stays one record)."""
        text = " ".join(body.split()) or "<empty response>"
        if text.startswith("{") and text.endswith("}"):
            text = text[:-1]  # still not valid JSON after folding, by construction
        self._append(dataset, text + "\n", 1)

    def write_json(self, dataset: str, values: list[Any]) -> None:
        """JSON values as they came (an entry of a page that is not an object, such as `null`),
        one a line: the contract rejects each as `malformed` and keeps its text."""
        lines = "".join(json.dumps(v, ensure_ascii=False, default=str) + "\n" for v in values)
        self._append(dataset, lines, len(values))

    def _append(self, dataset: str, text: str, n: int) -> None:
        check_name(dataset, "spool dataset")  # it becomes `<dataset>.ndjson` in the batch
        with self._lock:
            fh = self._files.get(dataset)
            if fh is None:
                fh = self._files[dataset] = (self.path / f"{dataset}.ndjson").open(
                    "a", encoding="utf-8"
                )
            fh.write(text)
            self.counts[dataset] = self.counts.get(dataset, 0) + n

    def seal(self) -> None:
        """Flush to disk: from here the records survive anything that happens to the lake."""
        with self._lock:
            for fh in self._files.values():
                fh.flush()
                fh.close()
            self._files.clear()
            self._write_meta()

    def files(self) -> dict[str, Path]:
        return {p.stem: p for p in sorted(self.path.glob("*.ndjson"))}

    def done(self, dataset: str) -> None:
        check_name(dataset, "spool dataset")
        (self.path / f"{dataset}.ndjson").unlink(missing_ok=True)
        if not self.files():
            shutil.rmtree(self.path, ignore_errors=True)


def pending(settings: Settings) -> list[Batch]:
    """Spooled batches still waiting for the lake, oldest first."""
    root = spool_root(settings)
    if not root.exists():
        return []
    out = []
    for meta in sorted(root.glob("*/*/*/batch.json"), key=lambda p: p.parent.name):
        batch = Batch.load(meta.parent)
        if batch.files():
            out.append(batch)
        else:
            shutil.rmtree(meta.parent, ignore_errors=True)
    return out


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "_"
