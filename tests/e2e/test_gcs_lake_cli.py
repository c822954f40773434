"""A `gs://` lake as a user runs it, on the GCS emulator: ingest, reports, a stream run with its
dead letters (CDC cart events included), and the spool. The bucket is versioned, so listing it
after proves every object was written once and under its final name (`Bucket.objects`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.e2e.conftest import CLI
from tests.lake.gcs_emulator import Bucket, make_bucket
from trackline.fakeapi import FakeAPI, serve


@pytest.fixture
def gcs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Bucket]:
    yield from make_bucket(monkeypatch)


def _rows(bucket: Bucket, names: list[str]) -> int:
    total = 0
    for name in names:
        with bucket.fs.open(f"{bucket.name}/{name}", "rb") as f:
            total += pq.ParquetFile(f).metadata.num_rows
    return total


def _lines(bucket: Bucket, names: list[str]) -> list[str]:
    out = []
    for name in names:
        out += bucket.fs.cat_file(f"{bucket.name}/{name}").decode().splitlines()
    return out


def _letters(bucket: Bucket, names: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _lines(bucket, names)]


def test_ingest_twice_and_reports_on_gcs(cli: CLI, gcs: Bucket) -> None:
    env = {**gcs.env, "TRACKLINE_LAKE_URI": gcs.uri()}
    gen = cli(
        "generate", "listens", "--count", "3000", "--invalid-share", "0.05", "--seed", "7",
        "--out", "listens.ndjson",
    )  # fmt: skip
    assert gen.code == 0, gen.err
    first = cli("ingest", "listens.ndjson", "--dataset", "listens", "--json", extra_env=env)
    assert first.code == 0, first.err
    run = first.json()
    counts = run["counts"]
    assert counts["input"] == 3000 == counts["valid"] + counts["rejected"] + counts["duplicates"]
    assert counts["rejected"] > 0 and counts["duplicates"] > 0
    assert run["paths"]["manifest"] == f"{gcs.uri()}/manifests/{run['run_id']}.json"
    again = cli("ingest", "listens.ndjson", "--dataset", "listens", "--json", extra_env=env)
    assert again.code == 0 and again.json()["skipped"] is True, again.err

    report = cli("report", run["run_id"], "--json", extra_env=env)
    assert report.code == 0, report.err
    assert report.json()["quality"] and report.json()["dataset"] == "listens"
    shown = cli("runs", "show", run["run_id"], "--json", extra_env=env)
    assert shown.code == 0 and shown.json()["counts"]["valid"] == counts["valid"], shown.err

    objects = gcs.objects()  # each written once, none under a temporary name
    rid = run["run_id"]
    curated = [n for n in objects if n.startswith("lake/curated/listens/")]
    rejected = [n for n in objects if n.startswith("lake/rejected/listens/")]
    assert curated and all(f"/part-{rid}-" in n for n in curated)
    assert _rows(gcs, curated) == counts["valid"]
    assert _rows(gcs, rejected) == counts["rejected"]
    assert [n for n in objects if n.startswith("lake/raw/")] == [
        f"lake/raw/listens/{n.split('/raw/listens/')[1]}"
        for n in objects
        if "/raw/listens/" in n and n.endswith("part-00000-listens.ndjson")
    ]
    assert {n.rsplit("/", 1)[1] for n in objects if n.startswith(f"lake/reports/{rid}/")} == {
        "quality.json",
        "slices.json",
        "report.html",
        "report.md",
    }
    assert f"lake/manifests/{rid}.json" in objects


def test_stream_and_cdc_dead_letters_land_on_gcs(cli: CLI, gcs: Bucket) -> None:
    with serve(FakeAPI.create(seed=3)) as fake:
        env = {**gcs.env, **fake.env(), "TRACKLINE_LAKE_URI": gcs.uri()}
        pub = cli(
            "publish", "--count", "400", "--invalid-share", "0.1", "--seed", "2", "--json",
            extra_env=env,
        )  # fmt: skip
        assert pub.code == 0, pub.err
        run = cli("stream", "--idle-exit", "1", "--json", extra_env=env)
        assert run.code == 0, run.err
        s = run.json()
        assert s["events"] == 400 == s["valid"] + s["rejected"] + s["duplicates"]
        cdc = cli("cdc", "carts", "--once", "--json", extra_env=env)
        assert cdc.code == 0 and cdc.json()["published"] == 7, cdc.err
        carts = cli(
            "stream", "--topic", "cdc.carts", "--group", "carts", "--idle-exit", "1", "--json",
            extra_env=env,
        )  # fmt: skip
        assert carts.code == 0, carts.err
        assert carts.json()["rejected_by_reason"] == {"unknown_event_type": 7}

    objects = gcs.objects()
    raw = [n for n in objects if n.startswith("lake/raw/") and "/errors/" not in n]
    errors = [n for n in objects if n.startswith("lake/raw/errors/")]
    assert all(n.endswith(".ndjson") for n in raw + errors)
    assert len(_lines(gcs, [n for n in raw if "/unknown/" not in n])) == 400  # every payload
    dead = _letters(gcs, [n for n in errors if "/unknown/" not in n])
    assert len(dead) == s["rejected"] and all(d["reasons"] for d in dead)
    cart_letters = _letters(gcs, [n for n in errors if n.startswith("lake/raw/errors/unknown/")])
    assert len(cart_letters) == 7
    assert {d["reasons"][0] for d in cart_letters} == {"unknown_event_type"}
    assert {json.loads(d["data"])["data"]["op"] for d in cart_letters} == {"r"}  # the carts
    assert len([n for n in objects if n.startswith("lake/manifests/stream-")]) == 2


def test_fetch_spools_while_the_bucket_is_missing_then_flushes_to_gcs(
    cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    for gcs in make_bucket(monkeypatch, create=False):
        with serve(FakeAPI.create()) as fake:
            env = {**gcs.env, **fake.env(), "TRACKLINE_LAKE_URI": gcs.uri()}
            failed = cli("fetch", "fakestore", extra_env=env)
            assert failed.code == 1 and "spool flush" in failed.err, failed.err
            assert "Traceback" not in failed.err
            gcs.fs.mkdir(gcs.name, enable_versioning=True)  # the bucket is there now
            flushed = cli("spool", "flush", "--json", extra_env=env)
            assert flushed.code == 0, flushed.err
            assert flushed.json()["pending"] == 0
            assert flushed.json()["flushed"][0]["added"]["users"] == 10
        objects = gcs.objects()
        assert any(n.startswith("lake/curated/users/") for n in objects)
        assert any(n.startswith("lake/raw/products/") for n in objects)
