"""Both engines over the same inputs give the same result: counts, warehouse and curated rows
by content, the same curated folders, the same rejected rows (source, line, reasons, text),
the same manifest counts; every file a manifest lists exists.

Inputs: every built-in dataset's generator with every invalid kind, in every format
(ndjson, csv, json array, parquet, gzip), the property tests' malformed records, and a second
run over known keys (every copy a warehouse duplicate). The Beam side runs on the
DirectRunner (in-process; one test with two worker processes); NDJSON files are also read in
small byte ranges, cut inside lines.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.engines.beam.equivalence import ingest, outcome, settings
from trackline.contracts.loader import builtin_contracts
from trackline.generate.writers import write

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
DATASETS = sorted(builtin_contracts())
FORMATS = ["csv", "parquet", "json.gz", "ndjson.gz", "csv.gz", "json"]


def both(
    root: Path,
    paths: list[str],
    dataset: str,
    *,
    force: bool = False,
    workers: int = 1,
    split_bytes: int = 32 << 20,
    mode: str | None = None,
) -> tuple[dict[str, object], dict[str, object]]:
    results = {
        e: ingest(
            root, e, paths, dataset, NOW, force=force, workers=workers, split_bytes=split, mode=mode
        )
        for e, split in (("local", 0), ("beam", split_bytes))
    }
    local, beam = (outcome(settings(root, e), results[e]) for e in ("local", "beam"))
    if not force:  # the same inputs are the same run, whichever engine runs it
        assert results["local"].manifest.run_id == results["beam"].manifest.run_id
    return local, beam


def assert_same(local: dict[str, object], beam: dict[str, object]) -> None:
    for key in local:
        assert beam[key] == local[key], f"engines differ on {key}"


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_dataset_every_invalid_kind_same_result(dataset: str, tmp_path: Path) -> None:
    i = DATASETS.index(dataset)
    made = [
        write(dataset, 120, tmp_path / "in" / "a.ndjson", invalid_share=0.3, seed=i, now=NOW),
        write(
            dataset,
            80,
            tmp_path / "in" / f"b.{FORMATS[i % len(FORMATS)]}",
            invalid_share=0.3,
            seed=100 + i,
            now=NOW,
        ),
    ]
    paths = [str(m.path) for m in made]
    local, beam = both(tmp_path, paths, dataset)
    counts = local["counts"]
    assert isinstance(counts, dict)
    assert counts["input"] == sum(m.count for m in made)
    assert counts["rejected"] > 0  # the generator's invalid kinds went in
    assert_same(local, beam)


MALFORMED = [
    b'{"event_id": "x"',
    b"[1,2]",
    b"null",
    b"42",
    b'"str"',
    b"{}",
    b'{"event_id": "e1",}',
    b"\xff\xfe{bad}",
    b'{"event_id": "\xc3("}',
    b"",
    b"   ",
    b'{"event_id": "e9", "user_id": "u", "event_type": "play", "song_id": "s", '
    b'"timestamp": "2026-05-01T10:00:00Z", "position_ms": 1e3}',
]


def good(i: int, **over: object) -> bytes:
    rec = {
        "event_id": f"e{i}",
        "user_id": f"u{i % 3}",
        "event_type": ["play", " SKIP ", "Like"][i % 3],
        "song_id": f"s{i % 7}",
        "country": ["US", " gb ", None][i % 3],
        "position_ms": 100 * i,
        "duration_ms": 100_000,
        "timestamp": (NOW - timedelta(hours=i)).isoformat(),
        **over,
    }
    return json.dumps(rec).encode()


def test_malformed_records_repeats_and_known_keys_same_result(tmp_path: Path) -> None:
    lines = [good(i) for i in range(40)]
    lines[5:5] = MALFORMED  # between valid records, in the middle of the file
    lines += [good(3), good(4, user_id="changed"), good(41, timestamp="tomorrow")]
    a = tmp_path / "a.ndjson"
    a.write_bytes(b"\n".join(lines) + b"\n")
    b = tmp_path / "b.csv"  # a repeat of a's key in a later file, a short row, a quoted break
    b.write_text(
        "event_id,user_id,event_type,song_id,timestamp\n"
        f"e7,u1,play,s1,{NOW.isoformat()}\n"
        "e50,u1,play\n"
        f'e51,"u\n1",skip,s2,{NOW.isoformat()}\n'
    )
    paths = [str(a), str(b)]
    # the NDJSON file read in ranges of 100 bytes: cut inside lines, blank lines, bad bytes
    local, beam = both(tmp_path, paths, "listening_events", split_bytes=100)
    assert_same(local, beam)
    counts = local["counts"]
    assert isinstance(counts, dict)
    assert counts["rejected_by_reason"]["malformed"] >= 8
    assert counts["duplicates_in_input"] == 3
    # again, forced: every key the first run loaded is a warehouse duplicate, in both engines
    local2, beam2 = both(tmp_path, paths, "listening_events", force=True)
    assert_same(local2, beam2)
    counts2 = local2["counts"]
    assert isinstance(counts2, dict)
    assert counts2["valid"] == 0
    assert counts2["duplicates_in_warehouse"] == counts["valid"] + counts["duplicates_in_input"]


@pytest.mark.parametrize("mode", [None, "multi_processing"], ids=["threads", "processes"])
def test_two_workers_same_result(tmp_path: Path, mode: str | None) -> None:
    """Two workers as threads (trackline's default for more than one) and as processes."""
    paths = [
        str(write("listens", 1500, tmp_path / "l.ndjson", invalid_share=0.2, seed=7, now=NOW).path),
        str(write("listens", 500, tmp_path / "l2.csv.gz", invalid_share=0.2, seed=8, now=NOW).path),
    ]
    local, beam = both(tmp_path, paths, "listens", workers=2, split_bytes=60_000, mode=mode)
    assert_same(local, beam)
