"""Every reason a record is rejected, as typed enums: engines never type a code as a loose string.

`Reason` is the code in a rejected row's `reasons` (and in `rejected_by_reason`, CDC's
`rejected_reasons`): a code alone (`malformed`) or a code and a name joined by a colon
(`required:user_id`, `rule:likes_not_above_views`); `field` says what that name is.
`Malformed` is the `detail` that says why a `malformed` record could not be read. Both are
public (stored in `meta.rejected`, shown in reports): add a member, never change a string.
`docs/contracts.md` lists them as `markdown()` renders them (`python -m
trackline.contracts.reasons` prints it; a test keeps the two the same).
"""

from __future__ import annotations

from enum import Enum


class Reason(Enum):
    """A reason code: (code, what the name after the colon is, meaning)."""

    code: str
    field: str | None  # "field", "rule", or None: the code stands alone
    meaning: str

    MALFORMED = (
        "malformed",
        None,
        "the record could not be read into fields; `detail` says why (see below)",
    )
    REQUIRED = ("required", "field", "missing or blank")
    TYPE = ("type", "field", "present but not castable to the field's type")
    MIN = ("min", "field", "below the field's minimum")
    MAX = ("max", "field", "above the field's maximum")
    PATTERN = ("pattern", "field", "does not match the field's pattern")
    ENUM = ("enum", "field", "not one of the allowed values (after normalisation)")
    NOT_FUTURE = ("not_future", "field", "later than the run's start + `future_tolerance_seconds`")
    RULE = ("rule", "rule", "a cross-field rule is false")
    UNKNOWN_EVENT_TYPE = (
        "unknown_event_type",
        None,
        "stream: the message's `event_type` attribute is missing or names no contract",
    )
    NOT_AN_OBJECT = ("not_an_object", None, "CDC: a listed cart that is not a JSON object")
    MISSING_ID = ("missing_id", None, "CDC: a listed cart without an `id`")
    BAD_ID = ("bad_id", None, "CDC: a cart `id` that is neither an integer nor a non-blank string")

    def __init__(self, code: str, field: str | None, meaning: str) -> None:
        self.code = code
        self.field = field
        self.meaning = meaning

    def __str__(self) -> str:
        return self.code

    def of(self, name: str) -> str:
        """The reason for one field or rule: `required:user_id`."""
        if self.field is None:
            raise ValueError(f"reason {self.code!r} names no {name!r}: it stands alone")
        return f"{self.code}:{name}"

    @classmethod
    def parse(cls, reason: str) -> tuple[Reason, str | None]:
        """The code and the name of an emitted reason; ValueError for one no engine emits."""
        head, sep, name = reason.partition(":")
        member = _BY_CODE.get(head)
        if member is None or bool(sep) != (member.field is not None) or (sep and not name):
            raise ValueError(f"{reason!r} is not a reason code (see trackline.contracts.reasons)")
        return member, name or None

    @property
    def shown(self) -> str:
        """The code as the docs write it: `required:<field>`."""
        return self.code if self.field is None else f"{self.code}:<{self.field}>"


_BY_CODE = {r.code: r for r in Reason}


class Malformed(Enum):
    """Why a record is `malformed`: (the `detail` text, with {placeholders}; meaning)."""

    text: str
    meaning: str

    INVALID_JSON = ("invalid JSON", "a line, message or API response that is not valid JSON")
    NOT_AN_OBJECT = ("not a JSON object", "valid JSON that is not an object")
    NOT_UTF8 = ("not UTF-8", "stream: a message payload that is not UTF-8")
    BAD_ENCODING = ("bad encoding (not UTF-8)", "a file record holding bytes that are not UTF-8")
    LINE_TOO_LONG = (
        "line longer than {limit} bytes",
        "an NDJSON line over the reader's limit (kept as one row, memory stays bounded)",
    )
    INVALID_JSON_ARRAY = (
        "invalid JSON array: {error}",
        "a JSON array file that does not parse; the error says where",
    )
    NOT_AN_ARRAY = ("expected a JSON array of objects", "a JSON file that is not an array")
    COLUMN_COUNT = (
        "wrong column count: expected {expected}, got {got}",
        "a CSV row with more or fewer values than the header",
    )
    UNREADABLE_CSV = ("unreadable CSV: {error}", "a CSV file the parser gave up on")
    UNREADABLE_PARQUET = ("unreadable Parquet: {error}", "a Parquet file that cannot be read")
    CORRUPT_GZIP = (
        "corrupt gzip stream: {error}",
        "a gzip file that ends early or does not decompress; rows before it are kept",
    )

    def __init__(self, text: str, meaning: str) -> None:
        self.text = text
        self.meaning = meaning

    def __str__(self) -> str:
        return self.text

    def format(self, **values: object) -> str:
        """The detail with its placeholders filled: `wrong column count: expected 3, got 4`."""
        return self.text.format(**values)

    @classmethod
    def parse(cls, detail: str) -> Malformed:
        """The kind of an emitted detail; ValueError for a detail no reader writes."""
        for member in cls:
            head, *_ = member.text.partition("{")
            if detail == member.text or ("{" in member.text and detail.startswith(head)):
                return member
        raise ValueError(f"{detail!r} is not a malformed detail (see trackline.contracts.reasons)")


def markdown() -> str:
    """The two tables of `docs/contracts.md`, rendered from the enums."""
    rows = ["| code | meaning |", "|---|---|"]
    rows += [f"| `{r.shown}` | {r.meaning} |" for r in Reason]
    rows += ["", "| `detail` of `malformed` | meaning |", "|---|---|"]
    rows += [f"| `{_shown(m.text)}` | {m.meaning} |" for m in Malformed]
    return "\n".join(rows) + "\n"


def _shown(text: str) -> str:
    return text.replace("{", "<").replace("}", ">")


if __name__ == "__main__":
    print(markdown(), end="")
