"""Progress for long steps: a rich bar on a terminal, plain log lines otherwise.

The library reports through a `Reporter`; the CLI chooses which one, so library callers and
tests stay quiet by default.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from trackline.config import env_flag

log = logging.getLogger("trackline.core.progress")


class Task(Protocol):
    def advance(self, n: int) -> None: ...


class Reporter(Protocol):
    def task(self, description: str, total: int | None = None) -> AbstractContextManager[Task]: ...


class _NullTask:
    def advance(self, n: int) -> None:
        return None


class NullReporter:
    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Task]:
        yield _NullTask()


class _LogTask:
    def __init__(self, description: str, total: int | None, every: float) -> None:
        self.description, self.total, self.every = description, total, every
        self.done = 0
        self.last = time.monotonic()

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            of = f"/{self.total}" if self.total else ""
            log.info("progress step=%r done=%d%s", self.description, self.done, of)


class LogReporter:
    """Plain lines (no terminal): a start line, a line every few seconds, an end line."""

    def __init__(self, every: float = 2.0) -> None:
        self.every = every

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Task]:
        t = _LogTask(description, total, self.every)
        start = time.monotonic()
        log.info("start step=%r", description)
        yield t
        log.info(
            "done step=%r items=%d seconds=%.2f", description, t.done, time.monotonic() - start
        )


class RichReporter:
    """Rich progress bars on stderr."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Task]:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        columns = [
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        ]
        with Progress(*columns, console=self.console, transient=True) as progress:
            task_id = progress.add_task(description, total=total)

            class _T:
                def advance(self, n: int) -> None:
                    progress.advance(task_id, n)

            yield _T()


def default_reporter(quiet: bool = False) -> Reporter:
    if quiet:
        return NullReporter()
    if sys.stderr.isatty() and not env_flag("CI"):
        return RichReporter()
    return LogReporter()
