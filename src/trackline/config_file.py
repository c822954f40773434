"""Which trackline.toml is read, whether it can be trusted, and where each setting came from.

At most one file is read, the first found: `--config PATH`, `TRACKLINE_CONFIG`,
`<home>/trackline.toml`, `./trackline.toml`. The two found by looking (home, working directory)
are used only when owned by the current user (or root) and not writable by group or others: a
file anyone could have planted must not point the accounts URL, and with it refresh tokens,
somewhere else. A file named explicitly is the user's choice and is read as given.
"""

from __future__ import annotations

import logging
import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trackline.errors import ConfigError

CONFIG_FILE = "trackline.toml"
CONFIG_ENV = "TRACKLINE_CONFIG"
DEFAULT_HOME = ".trackline"
ENV_PREFIX = "TRACKLINE_"

log = logging.getLogger("trackline.config")
_warned: set[str] = set()  # one warning per message per process (settings load many times)


@dataclass(frozen=True)
class ConfigFile:
    """The file read (None: none) and how it was found."""

    path: Path | None = None
    #: "--config", "TRACKLINE_CONFIG", "home" or "working directory"; None when no file.
    found_by: str | None = None
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Origins:
    """Where each setting's value came from: a flag, the environment, the file or the default."""

    file: ConfigFile
    env: frozenset[str]
    flags: frozenset[str]

    def of(self, name: str) -> tuple[str, str | None]:
        """(source, where): ("flag", "--home"), ("env", "TRACKLINE_X"), ("file", path), ..."""
        if name in self.flags:
            return "flag", "--home" if name == "home" else None
        if name in self.env:
            return "env", ENV_PREFIX + name.upper()
        if name in self.file.values:
            return "file", str(self.file.path)
        return "default", None

    def describe(self, name: str) -> str:
        source, where = self.of(name)
        if source == "default":
            return "the default"
        return f"{source} {where}" if where else source


def find_config(config: Path | str | None = None, home: Path | str | None = None) -> ConfigFile:
    """The one config file in effect for this call (`config` is the --config flag)."""
    if config is not None and str(config) != "":
        return _explicit(Path(config).expanduser(), "--config")
    named = os.environ.get(CONFIG_ENV, "").strip()
    if named:
        return _explicit(Path(named).expanduser(), CONFIG_ENV)
    home_dir = Path(home) if home is not None else Path(_env("HOME") or DEFAULT_HOME)
    looked: set[Path] = set()
    for path, found_by in (
        (home_dir / CONFIG_FILE, "home"),
        (Path(CONFIG_FILE), "working directory"),
    ):
        key = path.absolute()
        if key in looked:  # home is the working directory
            continue
        looked.add(key)
        found = _trusted(path, found_by)
        if found is not None:
            return found
    return ConfigFile()


def known_values(file: ConfigFile, fields: set[str]) -> dict[str, Any]:
    """The file's settings; an unknown key (a typo) is a warning, not silently nothing."""
    unknown = sorted(k for k in file.values if k not in fields)
    if unknown:
        names = ", ".join(unknown)
        _warn(f"{file.path}: unknown setting(s) {names} ignored; see `trackline config show`")
    return {k: v for k, v in file.values.items() if k in fields}


def _env(name: str) -> str | None:
    # pydantic-settings matches TRACKLINE_* without regard to case; so does the home lookup.
    wanted = ENV_PREFIX + name
    for key, value in os.environ.items():
        if key.upper() == wanted and value:
            return value
    return None


def _explicit(path: Path, found_by: str) -> ConfigFile:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} (from {found_by}) does not exist; check the path"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"config file {path} (from {found_by}) cannot be read: {exc.strerror}"
        ) from None
    return ConfigFile(path.absolute(), found_by, _parse(data, path))


def _trusted(path: Path, found_by: str) -> ConfigFile | None:
    # Open first, then check the open file: what is checked is what is read. O_NONBLOCK so a
    # planted FIFO cannot hang the command.
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        _warn(f"ignoring {path}: it cannot be read ({exc.strerror})")
        return None
    with os.fdopen(fd, "rb") as fh:
        why = _distrust(os.fstat(fh.fileno()), found_by)
        if why:
            fix = f"chmod go-w {path}, or " if "writable" in why else ""
            _warn(f"ignoring {path} ({found_by}): {why}; to use it, {fix}pass --config {path}")
            return None
        data = fh.read()
    return ConfigFile(path.absolute(), found_by, _parse(data, path))


def _distrust(st: os.stat_result, found_by: str) -> str | None:
    """Why a file found by looking may have been planted, or None when it is safe to read."""
    if not stat.S_ISREG(st.st_mode):
        return "it is not a regular file"
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # no POSIX owners (Windows): only the home's file is read unasked
        return None if found_by == "home" else "file ownership cannot be checked on this system"
    if st.st_uid not in (getuid(), 0):
        return f"it is owned by another user (uid {st.st_uid})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"it is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


def _parse(data: bytes, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML ({exc}); fix it") from None


def _warn(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning(message)
