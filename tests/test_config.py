"""Settings come from trackline.toml, then TRACKLINE_* variables, then explicit values."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackline.config import Settings
from trackline.errors import ConfigError


def test_toml_then_env_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("TRACKLINE_HOME", "TRACKLINE_SLICE_MIN_N", "TRACKLINE_LAKE_URI"):
        monkeypatch.delenv(var, raising=False)
    assert Settings.load().home == Path(".trackline")
    (tmp_path / "trackline.toml").write_text('home = "from-toml"\nslice_min_n = 7\n')
    s = Settings.load()
    assert (s.home, s.slice_min_n) == (Path("from-toml"), 7)
    assert s.warehouse == Path("from-toml") / "warehouse.duckdb"
    assert s.lake == str((Path("from-toml") / "lake").absolute())
    monkeypatch.setenv("TRACKLINE_SLICE_MIN_N", "9")
    monkeypatch.setenv("TRACKLINE_LAKE_URI", "memory://x")
    s = Settings.load()
    assert (s.slice_min_n, s.lake) == (9, "memory://x")
    assert Settings.load(home=tmp_path / "flag").home == tmp_path / "flag"


def test_bad_setting_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRACKLINE_BATCH_ROWS", "zero")
    with pytest.raises(ConfigError, match="batch_rows"):
        Settings.load()
