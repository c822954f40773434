"""The one check for names that become file names, folders or bus subjects.

A CDC source, a spool provider or dataset, a contract's dataset, a topic or a consumer group is
joined into a path (or a NATS subject, a Redis key) somewhere; a name such as `../../x` would
then write outside the home. One conservative pattern for all of them keeps that impossible:
a letter or digit first, then letters, digits, `_`, `.` and `-`, at most 128 characters, and
never `..`.
"""

from __future__ import annotations

import re

from trackline.errors import UsageError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


class InvalidPathNameError(UsageError):
    """A name that would become part of a path is not a safe one."""


def is_safe_name(value: object) -> bool:
    return isinstance(value, str) and bool(_NAME.fullmatch(value)) and ".." not in value


def check_name(value: str, what: str = "name") -> str:
    """`value` unchanged when it is safe to join into a path, else a one-line usage error."""
    if not is_safe_name(value):
        shown = value if isinstance(value, str) and len(value) <= 60 else f"{str(value)[:60]}..."
        raise InvalidPathNameError(
            f"invalid {what} {shown!r}: use 1-128 letters, digits, '_', '.' or '-', starting "
            "with a letter or digit, without '..' (it becomes part of a file name)"
        )
    return value
