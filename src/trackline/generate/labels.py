"""What a generated record is: valid, or invalid of one kind with the reason code to expect."""

from __future__ import annotations

from typing import Any, NamedTuple

Row = dict[str, Any]
Record = str | Row  # a JSON-ready dict, or the broken text of a malformed record

#: Every kind of invalid record the generator can make, in the order they take turns.
INVALID_KINDS: tuple[str, ...] = (
    "malformed",
    "required",
    "type",
    "min",
    "max",
    "pattern",
    "enum",
    "not_future",
    "rule",
    "duplicate",
)


class Labelled(NamedTuple):
    """A generated record and what it is.

    `kind` is "valid" or one of INVALID_KINDS; `code` is the reason the kernel must report
    (None for valid records and duplicates); `base` is the valid record a malformed one was
    broken from (the CSV writer writes it with a wrong column count).
    """

    kind: str
    code: str | None
    record: Record
    base: Row | None = None
