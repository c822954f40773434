"""What every command shares: settings from --home, output helpers, logging set-up.

Nothing here imports more than the standard library and typer at start: a command's help must
not pay for pydantic, rich or the HTTP client. Each is loaded when a command first uses it.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
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
    """One JSON document on stdout (scripts parse it; nothing else goes to stdout): strict JSON
    with every timestamp as RFC 3339 in UTC with `Z` (see `jsonable`)."""
    sys.stdout.write(dumps(jsonable(obj, stamps=True)) + "\n")
    sys.stdout.flush()


def dumps(doc: Any) -> str:
    """One line of strict JSON (no NaN or Infinity) from what `jsonable` returned."""
    return json.dumps(doc, allow_nan=False, sort_keys=False)


#: A timestamp written as text with an offset (`isoformat()` of an aware datetime, or str()).
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")


def jsonable(value: Any, *, stamps: bool = False) -> Any:
    """The one `--json` encoder: NaN and infinities -> null, bytes -> base64 text, datetimes ->
    RFC 3339 in UTC with `Z` (naive ones are UTC: trackline's clocks are), decimals with a scale,
    intervals, UUIDs, paths... -> text. With `stamps`, text that is a timestamp with an offset
    is rewritten the same way (trackline's own records keep `isoformat()` text); `query` leaves
    its data's text as it is."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        if stamps and _STAMP.fullmatch(value):
            return jsonable(datetime.fromisoformat(value))
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):  # exact: HUGEINT (sum of integers) a number, DECIMAL text
        return int(value) if value.as_tuple().exponent == 0 else str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, date | time):
        return value.isoformat()
    months = getattr(value, "months", None)
    if isinstance(months, int):  # an INTERVAL (Arrow's month-day-nano, a tuple): ISO 8601
        seconds = value.nanoseconds / 1e9
        return f"P{months}M{value.days}DT{seconds:g}S"
    if isinstance(value, dict):
        return {str(k): jsonable(v, stamps=stamps) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, stamps=stamps) for v in value]
    return str(value)


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
        from trackline.redact import redact

        # A library's message may quote a URI or a token: masked like every other output.
        message = redact(one_line(f"unexpected {type(exc).__name__}: {exc}"))
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
