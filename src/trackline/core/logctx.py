"""Context for log lines: while a worker runs a session, every line carries its id.

A `ContextVar` holds the session id; `ContextFilter` (installed on the CLI's log handler)
appends `session_id=...` to each record logged in that context, including lines from the
connectors and the engine, which know nothing about sessions. Threads started for a session
run under a copy of its context (`contextvars.copy_context().run`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

session_id_var: ContextVar[str | None] = ContextVar("trackline_session_id", default=None)


@contextmanager
def session_context(session_id: str) -> Iterator[None]:
    token = session_id_var.set(session_id)
    try:
        yield
    finally:
        session_id_var.reset(token)


class ContextFilter(logging.Filter):
    """Adds `session_id=` to a record logged while a session runs (once, never twice)."""

    def filter(self, record: logging.LogRecord) -> bool:
        sid = session_id_var.get()
        record.session_id = sid
        if sid and "session_id=" not in str(record.msg):
            shown = sid.replace("%", "%%") if record.args else sid
            record.msg = f"{record.msg} session_id={shown}"
        return True
