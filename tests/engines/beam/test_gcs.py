"""The Beam engine over gs:// inputs into a gs:// lake, as issue #26's user runs it, on the GCS
emulator: a glob of NDJSON files (one read as byte ranges from the bucket), a gzip file and a
CSV file; the same result as the local engine over the same objects (counts, warehouse and
curated rows, rejected rows with their gs:// source and line, manifest counts), and a bucket
where every object was written once, under its final name, with no staging file left.
"""

from __future__ import annotations

import json
import os
import posixpath
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.engines.beam.equivalence import ingest, outcome, settings
from tests.lake.gcs_emulator import Bucket, make_bucket
from trackline.engines.beam.ranges import ranges
from trackline.generate.writers import write
from trackline.sources.files import expand

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
SPLIT = 64_000  # the big NDJSON file is read as several ranges of about this size
DATASET = "listening_events"


@pytest.fixture
def gcs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Bucket]:
    yield from make_bucket(monkeypatch)


def upload(bucket: Bucket, tmp_path: Path) -> list[str]:
    """The inputs on the bucket; the paths a user names: a glob, then two files by name."""
    made = tmp_path / "made"
    big = write(DATASET, 1500, made / "a.ndjson", invalid_share=0.2, seed=1, now=NOW).path
    small = write(DATASET, 200, made / "b.ndjson", invalid_share=0.2, seed=2, now=NOW).path
    # repeats of keys from `a` in a later file, and records that are no JSON object
    head = big.read_bytes().splitlines()[:5]
    small.write_bytes(small.read_bytes() + b"\n".join([*head, b"[1,2]", b'{"x": ']) + b"\n")
    gz = write(DATASET, 200, made / "c.ndjson.gz", invalid_share=0.2, seed=3, now=NOW).path
    csv = write(DATASET, 200, made / "d.csv", invalid_share=0.2, seed=4, now=NOW).path
    for f, folder in ((big, "events"), (small, "events"), (gz, "more"), (csv, "more")):
        bucket.fs.put_file(str(f), f"{bucket.name}/{folder}/{f.name}")
    bucket.fs.invalidate_cache()
    return [
        f"gs://{bucket.name}/events/*.ndjson",
        f"gs://{bucket.name}/more/c.ndjson.gz",
        f"gs://{bucket.name}/more/d.csv",
    ]


def assert_bucket_clean(bucket: Bucket) -> list[str]:
    """Every object written once under its final name; the pipeline's staging files (written
    once each, then deleted) are no longer there. The objects there now."""
    bucket.objects()
    bucket.fs.invalidate_cache()
    there = sorted(p.removeprefix(f"{bucket.name}/") for p in bucket.fs.find(bucket.name))
    assert not [n for n in there if "/_staging/" in n], "staging files left in the lake"
    return there


def test_beam_on_gcs_same_result_as_local(gcs: Bucket, tmp_path: Path) -> None:
    paths = upload(gcs, tmp_path)
    lakes = {"local": gcs.uri("lake-local"), "beam": gcs.uri("lake")}
    results = {
        e: ingest(tmp_path, e, paths, DATASET, NOW, workers=2, split_bytes=SPLIT, lake=lakes[e])
        for e in ("local", "beam")
    }
    files = expand(paths)  # after the engines opened the lake: gcsfs anonymous on the emulator
    assert len(files) == 4 and len(ranges(files[0], SPLIT)) > 5  # a.ndjson: read in ranges
    local, beam = (outcome(settings(tmp_path, e, lakes[e]), results[e]) for e in results)
    assert results["beam"].manifest.run_id == results["local"].manifest.run_id
    for key in local:
        assert beam[key] == local[key], f"engines differ on {key}"

    counts = beam["counts"]
    assert isinstance(counts, dict)
    assert counts["input"] == 1500 + 200 + 7 + 200 + 200
    assert counts["rejected"] > 0 and counts["rejected_by_reason"]["malformed"] >= 2
    assert counts["duplicates_in_input"] >= 5  # the repeats of `a` in `b`
    uris = [f.uri for f in files]
    assert [i.uri for i in results["beam"].manifest.inputs] == uris
    assert all(u.startswith(f"gs://{gcs.name}/") for u in uris)
    rejected = beam["rejected_lake"]
    assert isinstance(rejected, list)
    assert {r["source_file"] for r in rejected} == set(uris)  # every input had bad rows
    b_uri = f"gs://{gcs.name}/events/b.ndjson"
    assert {r["source_line"] for r in rejected if r["source_file"] == b_uri} >= {206, 207}
    rows = beam["rows"]
    assert isinstance(rows, list) and {r["_source_file"] for r in rows} == set(uris)

    names = assert_bucket_clean(gcs)
    rid = results["beam"].manifest.run_id
    for lake in ("lake", "lake-local"):  # the same layout under both lakes
        assert f"{lake}/manifests/{rid}.json" in names
        raw = [n for n in names if n.startswith(f"{lake}/raw/{DATASET}/")]
        landed = [n.rsplit("-", 1)[1] for n in raw]
        assert landed == ["a.ndjson", "b.ndjson", "c.ndjson.gz", "d.csv"]
    folders = {
        lake: {posixpath.dirname(n.split("/", 1)[1]) for n in names if n.startswith(f"{lake}/")}
        for lake in ("lake", "lake-local")
    }
    assert folders["lake"] == folders["lake-local"]  # the same lake layout


def test_worker_processes_reach_the_bucket(
    gcs: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two SDK worker processes (not threads) read ranges of a gs:// file and stage to the
    gs:// lake: the emulator's endpoint reaches them through the environment, and they talk
    to it anonymously as the driver does, never with the machine's Google credentials (here
    a made-up user's, which would fail: nothing to refresh them from)."""
    adc = tmp_path / "adc.json"
    adc.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "made-up.apps.example",
                "client_secret": "made-up",
                "refresh_token": "made-up",
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    made = write(DATASET, 600, tmp_path / "a.ndjson", invalid_share=0.2, seed=5, now=NOW).path
    gcs.fs.put_file(str(made), f"{gcs.name}/events/a.ndjson")
    paths = [f"gs://{gcs.name}/events/a.ndjson"]
    lakes = {"local": gcs.uri("lake-local"), "beam": gcs.uri("lake")}
    results = {
        e: ingest(
            tmp_path,
            e,
            paths,
            DATASET,
            NOW,
            workers=2,
            split_bytes=40_000,
            mode="multi_processing",
            lake=lakes[e],
        )
        for e in ("local", "beam")
    }
    local, beam = (outcome(settings(tmp_path, e, lakes[e]), results[e]) for e in results)
    for key in local:
        assert beam[key] == local[key], f"engines differ on {key}"
    assert_bucket_clean(gcs)


def cli(tmp_path: Path, home: str, env: dict[str, str], *args: str) -> dict[str, object]:
    """`trackline ARGS --json` in a process of its own; its JSON output (exit 0 asserted)."""
    done = run(tmp_path, home, env, *args)
    assert done.returncode == 0, done.stderr
    out: dict[str, object] = json.loads(done.stdout)
    return out


def run(
    tmp_path: Path, home: str, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLINE_")}
    done = subprocess.run(
        [sys.executable, "-m", "trackline", *args, "--json"],
        cwd=tmp_path,
        env={**base, **env, "TRACKLINE_HOME": str(tmp_path / home)},
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in done.stderr
    return done


def test_cli_ingest_a_gcs_glob_with_beam(gcs: Bucket, tmp_path: Path) -> None:
    for i in range(3):
        f = write("listens", 300, tmp_path / f"l{i}.ndjson", invalid_share=0.1, seed=i).path
        gcs.fs.put_file(str(f), f"{gcs.name}/events/{f.name}")
    glob = f"gs://{gcs.name}/events/*.ndjson"
    beam = cli(
        tmp_path, "home-beam", {**gcs.env, "TRACKLINE_LAKE_URI": gcs.uri("lake")},
        "ingest", glob, "-d", "listens", "--engine", "beam", "--num-workers", "2",
    )  # fmt: skip
    local = cli(
        tmp_path, "home-local", {**gcs.env, "TRACKLINE_LAKE_URI": gcs.uri("lake-local")},
        "ingest", glob, "-d", "listens",
    )  # fmt: skip
    assert beam["counts"] == local["counts"] and beam["run_id"] == local["run_id"]
    counts = beam["counts"]
    assert isinstance(counts, dict) and counts["input"] == 900 and counts["rejected"] > 0
    paths = beam["paths"]
    assert isinstance(paths, dict)
    assert paths["manifest"] == f"{gcs.uri('lake')}/manifests/{beam['run_id']}.json"
    assert_bucket_clean(gcs)
    again = cli(
        tmp_path, "home-beam", {**gcs.env, "TRACKLINE_LAKE_URI": gcs.uri("lake")},
        "ingest", glob, "-d", "listens", "--engine", "beam",
    )  # fmt: skip
    assert again["skipped"] is True and again["run_id"] == beam["run_id"]


@pytest.mark.parametrize("where", ["missing-bucket", "empty-glob"])
def test_cli_inputs_not_there_one_clear_line(gcs: Bucket, tmp_path: Path, where: str) -> None:
    glob = (
        f"gs://{gcs.name}-none/events/*.ndjson"
        if where == "missing-bucket"
        else f"gs://{gcs.name}/events/*.ndjson"
    )
    env = {**gcs.env, "TRACKLINE_LAKE_URI": gcs.uri("lake")}
    done = run(tmp_path, "home", env, "ingest", glob, "-d", "listens", "--engine", "beam")
    assert done.returncode == 2, done.stderr
    error = json.loads(done.stdout)["error"]
    assert glob in error and "check the" in error
    assert len(done.stderr.strip().splitlines()) == 1
