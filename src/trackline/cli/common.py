"""What every command shares: settings from --home, output helpers, logging set-up."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from trackline.config import Settings
from trackline.core.http.redact import RedactingFilter
from trackline.core.logctx import ContextFilter
from trackline.core.progress import Reporter, default_reporter


@dataclass
class State:
    home: Path | None = None
    debug: bool = False
    quiet: bool = False

    def settings(self) -> Settings:
        return Settings.load(home=self.home)

    def reporter(self, json_output: bool = False) -> Reporter:
        return default_reporter(quiet=self.quiet)


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, State) else State()


def _console(stderr: bool = False) -> Console:
    """Full-width tables on a terminal; a fixed wide layout when piped (no wrapping at 80)."""
    probe = Console(stderr=stderr)
    width = None if probe.is_terminal else 160
    return Console(stderr=stderr, highlight=False, soft_wrap=stderr, width=width)


out = _console()
err = _console(stderr=True)


def print_json(obj: Any) -> None:
    """One JSON document on stdout (scripts parse it; nothing else goes to stdout)."""
    sys.stdout.write(json.dumps(obj, default=str, sort_keys=False) + "\n")
    sys.stdout.flush()


class KeyValueFormatter(logging.Formatter):
    """`ts level logger message` lines; messages are already `event key=value ...`."""

    def format(self, record: logging.LogRecord) -> str:
        ts = self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
        return f"{ts} {record.levelname.lower()} {record.name} {record.getMessage()}"


def setup_logging(debug: bool, quiet: bool) -> None:
    logger = logging.getLogger("trackline")
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    handler.addFilter(RedactingFilter())  # no secret in any log line
    handler.addFilter(ContextFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO)
    logger.propagate = False
