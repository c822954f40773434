"""Python mirrors of the contracts' rules, built from the rule data in `data/datasets.yaml`.

A mirror checks a rule in three-valued logic (None passes, as in the kernel) so an invalid
record of another kind never breaks a rule by accident, and knows a way to break the rule
while every field stays in range, for the `rule` kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from trackline.generate.context import Ctx, Row

Getter = Callable[[str], Any]  # a field's value as the kernel sees it


class Rule(NamedTuple):
    holds: Callable[[Getter], bool | None]
    breaks: Callable[[Ctx, Row], None]


def _le(a: Any, b: Any) -> bool | None:
    return None if a is None or b is None else bool(a <= b)


def _or(*xs: bool | None) -> bool | None:
    if any(x is True for x in xs):
        return True
    return None if any(x is None for x in xs) else False


def _operand(limit: Any, times: int) -> Callable[[Getter], Any]:
    """A number as is, or a field's value (times `times`; None stays None)."""
    if not isinstance(limit, str):
        return lambda v: limit
    if times == 1:
        return lambda v: v(limit)
    return lambda v: None if (x := v(limit)) is None else times * x


def _check(data: dict[str, Any]) -> Callable[[Getter], bool | None]:
    name, times = data["field"], data.get("times", 1)
    if "at_most" in data:
        hi = _operand(data["at_most"], times)
        return lambda v: _le(v(name), hi(v))
    if "at_least" in data:
        lo = _operand(data["at_least"], times)
        return lambda v: _le(lo(v), v(name))
    if data.get("not_null"):
        return lambda v: v(name) is not None
    if "not_prefix" in data:
        prefix = str(data["not_prefix"])
        return lambda v: None if (x := v(name)) is None else not str(x).startswith(prefix)
    raise ValueError(f"a rule needs at_most, at_least, not_null or not_prefix: {data!r}")


def _holds(data: dict[str, Any]) -> Callable[[Getter], bool | None]:
    check = _check(data)
    if "when" not in data:
        return check
    ((name, values),) = data["when"].items()
    values = tuple(values)

    def holds(v: Getter) -> bool | None:
        value = v(name)
        return _or(None if value is None else value not in values, check(v))

    return holds


def _exceed(name: str, limit: str, factor: int) -> Callable[[Ctx, Row], None]:
    """Break `name <= factor * limit` by setting name just above (filling limit if absent)."""

    def breaks(c: Ctx, row: Row) -> None:
        if not isinstance(row.get(limit), int | float):
            row[limit] = c.between(100, 10_000)
        above = factor * row[limit] + c.between(1, 1000)
        row[name] = round(above + c.rand(), 2) if isinstance(row[limit], float) else above

    return breaks


def _value(spec: Any) -> Callable[[Ctx], Any]:
    """A break value: a constant, {between: [lo, hi]}, {negative_between: ...}, {one_of: [...]}."""
    if not isinstance(spec, dict):
        return lambda c: spec
    ((how, arg),) = spec.items()
    if how == "between":
        return lambda c: c.between(*arg)
    if how == "negative_between":
        return lambda c: -c.between(*arg)
    if how == "one_of":
        values = tuple(arg)
        return lambda c: c.one_of(values)
    raise ValueError(f"unknown break value {spec!r}")


def _breaks(data: dict[str, Any]) -> Callable[[Ctx, Row], None]:
    if "break" not in data:
        if not isinstance(data.get("at_most"), str):
            raise ValueError(f"say how to break a rule that is not `at_most` a field: {data!r}")
        return _exceed(data["field"], data["at_most"], data.get("times", 1))
    values = {name: _value(spec) for name, spec in data["break"].items()}

    def breaks(c: Ctx, row: Row) -> None:
        row.update({name: make(c) for name, make in values.items()})

    return breaks


def rule_from_data(data: dict[str, Any]) -> Rule:
    return Rule(_holds(data), _breaks(data))
