"""The lake root works the same on a local path, memory:// and gs:// on the GCS emulator."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pyarrow as pa
import pytest

from tests.lake.gcs_emulator import Bucket, make_bucket
from trackline.errors import ConfigError
from trackline.lake import Lake


@pytest.fixture(params=["local", "memory", "gcs"])
def lake(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Lake]:
    if request.param == "local":
        yield Lake(str(tmp_path / "lake"))
    elif request.param == "memory":
        yield Lake(f"memory://lake-{uuid.uuid4().hex}")
    else:
        for fresh in make_bucket(monkeypatch):
            yield Lake(fresh.uri())


def test_land_copies_bytes_and_hashes(lake: Lake, tmp_path: Path) -> None:
    src = tmp_path / "in.ndjson.gz"
    data = bytes(range(256)) * 1000
    src.write_bytes(data)
    stored = lake.land(str(src), lake.path("raw", "d", "date=2026-01-01", "run_id=r1", "x.gz"))
    assert stored.bytes == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    with lake.fs.open(stored.path, "rb") as f:
        assert f.read() == data


@pytest.mark.parametrize("copy_range", ["native", "unsupported"])
def test_land_copies_a_local_file_in_the_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, copy_range: str
) -> None:
    if copy_range == "unsupported":  # as between filesystems that cannot copy a range

        def refuse(*args: object) -> int:
            raise OSError(18, "Invalid cross-device link")

        monkeypatch.setattr(os, "copy_file_range", refuse, raising=False)
    lake = Lake(str(tmp_path / "lake"))
    src = tmp_path / "in.ndjson"
    data = bytes(range(256)) * 12_000  # several copy calls' worth
    src.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    dest = lake.path("raw", "d", "x.ndjson")
    stored = lake.land(str(src), dest, sha256=digest)
    assert (stored.bytes, stored.sha256) == (len(data), digest)
    assert Path(dest).read_bytes() == data


def test_json_and_parquet_documents(lake: Lake) -> None:
    lake.write_json(lake.path("manifests", "r1.json"), {"a": 1})
    assert lake.read_json(lake.path("manifests", "r1.json")) == {"a": 1}
    stored = lake.write_parquet(pa.table({"x": [1, 2]}).to_reader(), lake.path("rej", "p.parquet"))
    assert stored.rows == 2 and lake.exists(stored.path)


def test_unknown_protocol_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot open lake"):
        Lake("nosuchproto://bucket/x")


def test_gcs_lake_writes_each_object_once_under_its_final_name(bucket: Bucket) -> None:
    lake = Lake(bucket.uri("lake"))
    lake.write_json(lake.path("manifests", "r1.json"), {"a": 1})
    stored = lake.write_parquet(
        pa.table({"x": [1, 2, 3]}).to_reader(), lake.path("rejected", "p.parquet")
    )
    assert lake.display(stored.path) == f"gs://{bucket.name}/lake/rejected/p.parquet"
    assert bucket.objects() == ["lake/manifests/r1.json", "lake/rejected/p.parquet"]


def test_a_missing_bucket_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for missing in make_bucket(monkeypatch, create=False):
        with pytest.raises(ConfigError, match=f"gs://{missing.name} does not exist"):
            Lake(missing.uri())


def test_on_an_emulator_gcsfs_is_anonymous_and_its_experimental_support_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", raising=False)
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setattr(fsspec.config, "conf", {})
    Lake(f"memory://lake-{uuid.uuid4().hex}")
    assert "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT" not in os.environ  # no emulator: untouched
    assert fsspec.config.conf == {}
    for fresh in make_bucket(monkeypatch):
        lake = Lake(fresh.uri())
        assert os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] == "false"
        # asked for anonymous access (else gcsfs tries Google credentials first, probing the
        # metadata server, and ends anonymous anyway)
        assert lake.fs.storage_options.get("token") == "anon"
        inputs, _ = fsspec.core.url_to_fs(f"gs://{fresh.name}/in/x.ndjson")  # as inputs open
        assert inputs.storage_options.get("token") == "anon"
