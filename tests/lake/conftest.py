"""Fixtures of the lake tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lake.gcs_emulator import Bucket, make_bucket


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[Bucket]:
    """A fresh versioned bucket on the GCS emulator (skips, or fails under CI, without it)."""
    yield from make_bucket(monkeypatch)
