"""What every command shares: settings from --home, output helpers, logging set-up.

Nothing here imports more than the standard library and typer at start: a command's help must
not pay for pydantic, rich or the HTTP client. Each is loaded when a command first uses it.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from trackline.config import Settings
    from trackline.core.progress import Reporter


@dataclass
class State:
    home: Path | None = None
    debug: bool = False
    quiet: bool = False
    config: Path | None = None

    def settings(self) -> Settings:
        from trackline.config import Settings

        return Settings.load(home=self.home, config=self.config)

    def reporter(self, json_output: bool = False) -> Reporter:
        from trackline.core.progress import default_reporter

        return default_reporter(quiet=self.quiet)


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, State) else State()


class LazyConsole:
    """A rich Console made on first print: full-width tables on a terminal; a fixed wide
    layout when piped (no wrapping at 80)."""

    def __init__(self, stderr: bool = False) -> None:
        self.stderr = stderr

    @cached_property
    def console(self) -> Console:
        from rich.console import Console

        probe = Console(stderr=self.stderr)
        width = None if probe.is_terminal else 160
        return Console(stderr=self.stderr, highlight=False, soft_wrap=self.stderr, width=width)

    def print(self, *objects: Any, **kwargs: Any) -> None:
        self.console.print(*objects, **kwargs)

    @property
    def is_terminal(self) -> bool:
        return self.console.is_terminal


out = LazyConsole()
err = LazyConsole(stderr=True)


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
    from trackline.core.http.redact import RedactingFilter
    from trackline.core.logctx import ContextFilter

    logger = logging.getLogger("trackline")
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    handler.addFilter(RedactingFilter())  # no secret in any log line
    handler.addFilter(ContextFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO)
    logger.propagate = False
