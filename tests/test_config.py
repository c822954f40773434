"""Settings come from one trusted trackline.toml, then TRACKLINE_* variables, then explicit values.

A trackline.toml found by looking (the home, the working directory) is read only when it is the
user's own and nobody else can write it; a planted one must not move the accounts URL.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from trackline.config import Settings
from trackline.errors import ConfigError

EVIL = 'spotify_accounts_url = "https://accounts.evil.example"\n'
DEFAULT_ACCOUNTS = "https://accounts.spotify.com"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for var in list(os.environ):
        if var.upper().startswith("TRACKLINE_"):
            monkeypatch.delenv(var)


@pytest.fixture
def warnings_seen() -> Iterator[list[str]]:
    """Warnings the config loader logs (a handler on its own logger, whatever else is set up)."""
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    logger = logging.getLogger("trackline.config")
    handler = Collect(level=logging.WARNING)
    logger.addHandler(handler)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)


def plant(path: Path, text: str, mode: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_toml_then_env_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.load().home == Path(".trackline")
    plant(tmp_path / "trackline.toml", 'home = "from-toml"\nslice_min_n = 7\n', 0o600)
    s = Settings.load()
    assert (s.home, s.slice_min_n) == (Path("from-toml"), 7)
    assert s.warehouse == Path("from-toml") / "warehouse.duckdb"
    assert s.lake == str((Path("from-toml") / "lake").absolute())
    monkeypatch.setenv("TRACKLINE_SLICE_MIN_N", "9")
    monkeypatch.setenv("TRACKLINE_LAKE_URI", "memory://x")
    s = Settings.load()
    assert (s.slice_min_n, s.lake) == (9, "memory://x")
    assert Settings.load(home=tmp_path / "flag").home == tmp_path / "flag"
    assert Settings.load(slice_min_n=11).slice_min_n == 11


def test_bad_setting_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKLINE_BATCH_ROWS", "zero")
    with pytest.raises(ConfigError, match=r"batch_rows.*TRACKLINE_BATCH_ROWS"):
        Settings.load()


def test_bad_value_in_a_file_names_the_file(tmp_path: Path) -> None:
    config = plant(tmp_path / "c.toml", "batch_rows = 0\n", 0o600)
    with pytest.raises(ConfigError, match=r"batch_rows.*c\.toml"):
        Settings.load(config=config)
    broken = plant(tmp_path / "broken.toml", "batch_rows = \n", 0o600)
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings.load(config=broken)


@pytest.mark.parametrize("mode", [0o666, 0o646, 0o620])
def test_a_file_others_can_write_in_the_working_directory_is_ignored(
    tmp_path: Path, mode: int, warnings_seen: list[str]
) -> None:
    plant(tmp_path / "trackline.toml", EVIL, mode)
    assert Settings.load(home=tmp_path / "home").spotify_accounts_url == DEFAULT_ACCOUNTS
    [warning] = [w for w in warnings_seen if "trackline.toml" in w]
    assert "writable by group or others" in warning and "--config" in warning
    assert "\n" not in warning


def test_a_planted_file_in_the_home_is_ignored_too(tmp_path: Path) -> None:
    plant(tmp_path / "home" / "trackline.toml", EVIL, 0o666)
    assert Settings.load(home=tmp_path / "home").spotify_accounts_url == DEFAULT_ACCOUNTS


@pytest.mark.skipif(
    not hasattr(os, "getuid") or os.getuid() != 0,
    reason="making a file owned by another user needs root",
)
def test_a_file_owned_by_another_user_is_ignored(tmp_path: Path, warnings_seen: list[str]) -> None:
    planted = plant(tmp_path / "trackline.toml", EVIL, 0o644)
    os.chown(planted, 65534, 65534)
    assert Settings.load().spotify_accounts_url == DEFAULT_ACCOUNTS
    assert any("owned by another user" in w for w in warnings_seen)


def test_own_private_file_in_the_working_directory_is_used(tmp_path: Path) -> None:
    plant(tmp_path / "trackline.toml", EVIL, 0o600)
    assert Settings.load().spotify_accounts_url == "https://accounts.evil.example"
    plant(tmp_path / "trackline.toml", EVIL, 0o644)  # readable by others is not a plant
    assert Settings.load().spotify_accounts_url == "https://accounts.evil.example"


@pytest.mark.skipif(sys.platform == "win32", reason="no FIFOs on Windows")
def test_a_planted_fifo_does_not_hang_the_load(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "trackline.toml", 0o600)
    started = time.monotonic()
    assert Settings.load().spotify_accounts_url == DEFAULT_ACCOUNTS
    assert time.monotonic() - started < 10


def test_home_file_comes_before_the_working_directory(tmp_path: Path) -> None:
    plant(tmp_path / "trackline.toml", "slice_min_n = 5\n", 0o600)
    plant(tmp_path / "home" / "trackline.toml", "slice_min_n = 6\n", 0o600)
    assert Settings.load(home=tmp_path / "home").slice_min_n == 6
    assert Settings.load(home=tmp_path / "elsewhere").slice_min_n == 5


def test_config_flag_and_env_name_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plant(tmp_path / "trackline.toml", "slice_min_n = 5\n", 0o600)
    by_env = plant(tmp_path / "env.toml", "slice_min_n = 7\n", 0o666)  # named: used as given
    by_flag = plant(tmp_path / "flag.toml", "slice_min_n = 8\n", 0o600)
    monkeypatch.setenv("TRACKLINE_CONFIG", str(by_env))
    assert Settings.load().slice_min_n == 7
    assert Settings.load(config=by_flag).slice_min_n == 8
    monkeypatch.setenv("TRACKLINE_SLICE_MIN_N", "9")  # the environment still wins over a file
    assert Settings.load(config=by_flag).slice_min_n == 9
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.load(config=tmp_path / "missing.toml")
    monkeypatch.setenv("TRACKLINE_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="TRACKLINE_CONFIG"):
        Settings.load()


def test_an_unknown_setting_in_the_file_is_a_warning(
    tmp_path: Path, warnings_seen: list[str]
) -> None:
    config = plant(tmp_path / "typo.toml", 'spotify_acounts_url = "x"\n', 0o600)
    assert Settings.load(config=config).spotify_accounts_url == DEFAULT_ACCOUNTS
    assert any("spotify_acounts_url" in w for w in warnings_seen)


def test_origins_say_where_each_value_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = plant(tmp_path / "c.toml", "slice_min_n = 5\nbatch_rows = 10\n", 0o600)
    monkeypatch.setenv("TRACKLINE_BATCH_ROWS", "20")
    _, origins = Settings.load_explained(tmp_path / "h", config=config, duckdb_threads=2)
    assert origins.of("home") == ("flag", "--home")
    assert origins.of("duckdb_threads") == ("flag", None)
    assert origins.of("batch_rows") == ("env", "TRACKLINE_BATCH_ROWS")
    assert origins.of("slice_min_n") == ("file", str(config.absolute()))
    assert origins.of("spotify_api_url") == ("default", None)
