"""The local dead-letter file: events the bus refused, kept as NDJSON until they are published.

One line per event: `{"topic", "ordering_key", "attributes", "event", "error", "failed_at",
"attempts"}`. Appends are flushed and fsynced before the snapshot advances past the event;
a replay rewrites the file atomically (temporary file, then rename) with what is still left. A
line that cannot be read back (a torn write after a crash) is moved to `<file>.corrupt` with a
warning, never dropped in silence.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from trackline.errors import TracklineError

log = logging.getLogger(__name__)


class DeadLetterError(TracklineError):
    """The dead-letter file cannot be written: the snapshot does not advance past the events."""


@dataclass
class Letter:
    topic: str
    ordering_key: str
    attributes: dict[str, str]
    event: dict[str, Any]
    error: str
    failed_at: str
    attempts: int = 1

    @classmethod
    def from_json(cls, line: str) -> Letter:
        raw = json.loads(line)
        if not isinstance(raw, dict) or not isinstance(raw.get("event"), dict):
            raise ValueError("not a dead letter")
        return cls(
            topic=str(raw["topic"]),
            ordering_key=str(raw["ordering_key"]),
            attributes={str(k): str(v) for k, v in dict(raw.get("attributes", {})).items()},
            event=raw["event"],
            error=str(raw.get("error", "")),
            failed_at=str(raw.get("failed_at", "")),
            attempts=int(raw.get("attempts", 1)),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False)


class DeadLetters:
    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[Letter]:
        if not self.path.exists():
            return []
        letters: list[Letter] = []
        corrupt: list[str] = []
        with self.path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    letters.append(Letter.from_json(line))
                except (ValueError, KeyError, TypeError):
                    corrupt.append(line if line.endswith("\n") else line + "\n")
        if corrupt:
            aside = self.path.with_name(self.path.name + ".corrupt")
            with aside.open("a", encoding="utf-8") as fh:
                fh.writelines(corrupt)
            log.warning("cdc.deadletter.corrupt lines=%d moved_to=%s", len(corrupt), aside)
            self.replace(letters)
        return letters

    def append(self, letters: Sequence[Letter]) -> None:
        if not letters:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.writelines(letter.to_json() + "\n" for letter in letters)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise DeadLetterError(
                f"cannot write the CDC dead-letter file {self.path}: {exc}; free space or fix "
                "permissions, then poll again (the snapshot was not advanced)"
            ) from None

    def replace(self, letters: Sequence[Letter]) -> None:
        """Keep exactly `letters` (those a replay could not publish)."""
        try:
            if not letters:
                self.path.unlink(missing_ok=True)
                return
            tmp = self.path.with_name(self.path.name + ".tmp")
            with tmp.open("w", encoding="utf-8") as fh:
                fh.writelines(letter.to_json() + "\n" for letter in letters)
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(self.path)
        except OSError as exc:
            raise DeadLetterError(
                f"cannot rewrite the CDC dead-letter file {self.path}: {exc}"
            ) from None
