"""A fresh, versioned bucket on the GCS emulator for one test (see scripts/services/gcs.sh).

Versioning keeps every generation of an object, so a test can prove that nothing was written
twice: each object name must have exactly one generation.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.services import require

TEMPORARY_MARKS = (".tmp", "tmp-", "_temporary", ".partial", ".inprogress", "~")


@dataclass
class Bucket:
    fs: Any  # a version-aware gcsfs filesystem on the emulator
    name: str
    host: str

    @property
    def env(self) -> dict[str, str]:
        return {"STORAGE_EMULATOR_HOST": self.host}

    def uri(self, prefix: str = "lake") -> str:
        return f"gs://{self.name}/{prefix}"

    def versions(self) -> dict[str, list[str]]:
        """Every object under the bucket: name -> its generations."""
        self.fs.invalidate_cache()
        found: dict[str, list[str]] = {}
        for path in self.fs.find(self.name, versions=True):
            name, _, generation = path.partition("#")
            found.setdefault(name.removeprefix(f"{self.name}/"), []).append(generation)
        return found

    def objects(self) -> list[str]:
        """Object names (relative to the bucket), each checked to be written once and under
        its final name."""
        versions = self.versions()
        twice = {name: gens for name, gens in versions.items() if len(gens) > 1}
        assert not twice, f"objects written more than once: {twice}"
        temporary = [n for n in versions if any(m in n for m in TEMPORARY_MARKS)]
        assert not temporary, f"objects left under temporary names: {temporary}"
        return sorted(versions)


def make_bucket(monkeypatch: pytest.MonkeyPatch, *, create: bool = True) -> Iterator[Bucket]:
    host = require("gcs")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", host)
    import gcsfs

    fs = gcsfs.GCSFileSystem(version_aware=True, skip_instance_cache=True, token="anon")
    bucket = Bucket(fs, f"tl-{uuid.uuid4().hex[:16]}", host)
    if create:
        fs.mkdir(bucket.name, enable_versioning=True)
    yield bucket
    fs.invalidate_cache()
    if fs.exists(bucket.name):
        fs.rm(bucket.name, recursive=True)
