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


#: Retry lines of a call that fails in the end only repeat what its one error line says (what,
#: for how long, what to do next); --debug shows each.
RETRY_EVENTS = ("bus.retry ", "http.retry ")


class RetryFilter(logging.Filter):
    def __init__(self, show: bool) -> None:
        super().__init__()
        self.show = show

    def filter(self, record: logging.LogRecord) -> bool:
        return self.show or not record.getMessage().startswith(RETRY_EVENTS)


_retries = RetryFilter(show=False)
_root: list[logging.Handler] = []  # the handler this module put on the root logger


def one_line(text: str) -> str:
    """A message on one line: library errors (psycopg's, for one) span several."""
    return " ".join(text.split())


def fail(exc: BaseException, *, debug: bool, json_output: bool) -> int:
    """Report an error that ends the command: one line on stderr (a traceback only with
    --debug) and, for a --json call, one JSON object with `error` on stdout. Returns the
    exit code: 2 for an unusable call, 1 for a failure."""
    from trackline.errors import TracklineError

    if debug:
        import traceback

        traceback.print_exception(exc)
    if isinstance(exc, TracklineError):
        code, message = exc.exit_code, one_line(str(exc))
    else:
        code = 1
        message = one_line(f"unexpected {type(exc).__name__}: {exc}")
        message += " (rerun with --debug for the traceback)"
    err.print(f"error: {message}", markup=False)
    if json_output:
        print_json({"error": message, "exit_code": code})
    return code


def setup_logging(debug: bool, quiet: bool) -> None:
    from trackline.core.http.redact import RedactingFilter
    from trackline.core.logctx import ContextFilter

    logger = logging.getLogger("trackline")
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    handler.addFilter(RedactingFilter())  # no secret in any log line
    handler.addFilter(ContextFilter())
    _retries.show = debug
    handler.addFilter(_retries)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO)
    logger.propagate = False
    # Libraries' own logs (nats prints a traceback per failed connect) only with --debug: the
    # error that ends the command says it in one line.
    root = logging.getLogger()
    for mine in _root:
        root.removeHandler(mine)
    _root[:] = [handler if debug else logging.NullHandler()]
    root.addHandler(_root[0])
