"""The plan stage: inputs resolved and hashed, and a run's id derived from what went in."""

from __future__ import annotations

import gzip
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trackline.config import Settings
from trackline.contracts.loader import ContractRegistry
from trackline.engines.stages import plan
from trackline.errors import UsageError

NOW = datetime(2026, 1, 2, tzinfo=UTC)


def inputs(tmp_path: Path) -> list[Path]:
    a = tmp_path / "a.ndjson"
    a.write_bytes(b'{"x":1}\n{"x":2}\n')
    b = tmp_path / "b.ndjson.gz"
    b.write_bytes(gzip.compress(b'{"x":3}\n'))
    c = tmp_path / "c.csv"
    c.write_bytes(b"x\n4\n")
    return [a, b, c]


@pytest.mark.parametrize("threads", [1, 4])
def test_each_input_is_hashed_in_order_and_plain_ndjson_scanned(
    tmp_path: Path, threads: int
) -> None:
    paths = inputs(tmp_path)
    files = plan.resolve([str(p) for p in paths])
    hashed = plan.hash_inputs(files, scan_lines=True, threads=threads)
    assert hashed.digests == [
        (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size) for p in paths
    ]
    a_scan, gz_scan, csv_scan = hashed.scans
    assert a_scan is not None and a_scan.fast and a_scan.lines == 2
    assert gz_scan is None and csv_scan is None  # only plain NDJSON may read fast
    a_scan.close()
    unscanned = plan.hash_inputs(files, scan_lines=False, threads=threads)
    assert unscanned.scans == [None, None, None] and unscanned.digests == hashed.digests


def test_nothing_to_read_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no input files"):
        plan.resolve([])


def test_the_same_inputs_are_the_same_run_unless_forced(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "home")
    contract = ContractRegistry(None).get("listening_events")
    files = plan.resolve([str(p) for p in inputs(tmp_path)])
    hashed = plan.hash_inputs(files, scan_lines=False, threads=1)
    first = plan.new_manifest(settings, contract, files, hashed, NOW, force=False)
    again = plan.new_manifest(settings, contract, files, hashed, NOW, force=False)
    forced = plan.new_manifest(settings, contract, files, hashed, NOW, force=True)
    assert first.run_id == again.run_id != forced.run_id
    assert first.dataset == "listening_events" and first.started_at == NOW
    assert [(i.uri, i.format, i.compression) for i in first.inputs] == [
        (f.uri, f.format, f.compression) for f in files
    ]
    assert [(i.sha256, i.bytes) for i in first.inputs] == hashed.digests
