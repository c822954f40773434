"""Run identity and the run manifest (design.md 3.2, 3.3).

A run is identified by what went in: the inputs' content hashes, the contract's version and
digest, and the settings that change results. The same inputs give the same run id, which is
how re-running a run is recognised; row-level dedup makes it add nothing even when forced.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from trackline.errors import AccountingError


def run_id_for(
    dataset: str, contract_digest: str, config_hash: str, input_hashes: list[str]
) -> str:
    blob = json.dumps(
        {
            "dataset": dataset,
            "contract": contract_digest,
            "config": config_hash,
            "inputs": sorted(input_hashes),
        },
        sort_keys=True,
    ).encode()
    return "r" + hashlib.sha256(blob).hexdigest()[:15]


class Counts(BaseModel):
    input: int = 0
    valid: int = 0
    rejected: int = 0
    duplicates: int = 0
    duplicates_in_input: int = 0
    duplicates_in_warehouse: int = 0
    rejected_by_reason: dict[str, int] = Field(default_factory=dict)

    def check(self) -> None:
        """The first promise: every input record is valid, rejected or a counted duplicate."""
        if self.input != self.valid + self.rejected + self.duplicates:
            raise AccountingError(
                f"counts do not add up: input {self.input} != valid {self.valid} + rejected "
                f"{self.rejected} + duplicates {self.duplicates}; this is a bug, please report it"
            )
        if self.duplicates != self.duplicates_in_input + self.duplicates_in_warehouse:
            raise AccountingError("duplicate counts do not add up; this is a bug")


class InputRecord(BaseModel):
    uri: str
    format: str
    compression: str | None = None
    bytes: int
    sha256: str
    landed: str | None = None


class OutputRecord(BaseModel):
    path: str
    rows: int | None = None
    bytes: int
    sha256: str


class Manifest(BaseModel):
    run_id: str
    dataset: str
    status: str = "running"  # running | done | failed
    contract: dict[str, Any]
    config_hash: str
    package_version: str
    started_at: datetime
    finished_at: datetime | None = None
    inputs: list[InputRecord] = Field(default_factory=list)
    outputs: dict[str, list[OutputRecord]] = Field(default_factory=dict)
    counts: Counts = Field(default_factory=Counts)
    timings: dict[str, float] = Field(default_factory=dict)
    error: str | None = None
