"""Query parameters, checked before anything is read: a bad one is a 400 page, an unknown run,
dataset, session or group a 404 page; never a traceback, never a value passed on unchecked."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from starlette.datastructures import QueryParams

from trackline.core.names import is_safe_name

RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
REASON = re.compile(r"[a-z][a-z0-9_]{0,63}(:[A-Za-z0-9_.-]{1,128})?")
STATUSES = ("running", "done", "failed")
SESSION_STATUSES = ("pending", "running", "done", "error")
MAX_PAGE = 100_000


class BadRequest(Exception):
    """A parameter is malformed (400)."""


class NotFound(Exception):
    """What the request names does not exist (404)."""


def text(q: QueryParams, name: str) -> str | None:
    value = q.get(name)
    return value.strip() or None if value is not None else None


def dataset(q: QueryParams, name: str = "dataset") -> str | None:
    value = text(q, name)
    if value is not None and not is_safe_name(value):
        raise BadRequest(f"{name}: not a dataset name")
    return value


def run_id(value: str | None, what: str = "run") -> str | None:
    if value is not None and not RUN_ID.fullmatch(value):
        raise BadRequest(f"{what}: not a run id")
    return value


def reason(q: QueryParams) -> str | None:
    value = text(q, "reason")
    if value is not None and not REASON.fullmatch(value):
        raise BadRequest("reason: not a reason code")
    return value


def choice(q: QueryParams, name: str, allowed: tuple[str, ...]) -> str | None:
    value = text(q, name)
    if value is not None and value not in allowed:
        raise BadRequest(f"{name}: one of {', '.join(allowed)}")
    return value


def day(q: QueryParams, name: str) -> datetime | None:
    value = text(q, name)
    if value is None:
        return None
    try:
        d = date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name}: a date as YYYY-MM-DD") from None
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def page(q: QueryParams) -> int:
    value = text(q, "page") or "1"
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise BadRequest(f"page: a whole number from 1 to {MAX_PAGE}")
    return int(value)


def number(q: QueryParams, name: str, default: float, lo: float, hi: float) -> float:
    value = text(q, name)
    if value is None:
        return default
    try:
        x = float(value)
    except ValueError:
        raise BadRequest(f"{name}: a number") from None
    if not lo <= x <= hi:
        raise BadRequest(f"{name}: between {lo:g} and {hi:g}")
    return x
