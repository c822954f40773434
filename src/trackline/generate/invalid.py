"""Invalid records on purpose: a fresh valid record with exactly one thing broken.

Each kind has a mutation that picks a field the contract checks that way and a bad value
for it (realistic ones from `data/invalid.yaml` first); the change is kept only if it
breaks no rule it should not, so the kernel reports exactly the reason the label names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from trackline.generate.context import DAY_MS, Ctx
from trackline.generate.datafiles import load
from trackline.generate.encode import ENCODE
from trackline.generate.labels import Labelled, Row
from trackline.generate.plan import Plan

ATTEMPTS = 25  # fresh base records a mutation may try before giving up
_DATA: dict[str, dict[str, list[str]]] = load("invalid")
BAD_TYPE: dict[str, tuple[str, ...]] = {t: tuple(v) for t, v in _DATA["bad_type"].items()}
BAD_PATTERN: dict[str, tuple[str, ...]] = {f: tuple(v) for f, v in _DATA["bad_pattern"].items()}
Mutation = tuple[str, Row]  # the reason code and the broken record


def _first_fit(
    p: Plan, c: Ctx, kind: str, names: Iterable[str], row: Row, make: Callable[[str], Any]
) -> Mutation | None:
    """Try the candidate fields in random order; keep the first change that breaks no rule
    (`make` returns the bad value for a field, or None when it has none)."""
    names = list(names)
    for name in c.rng.sample(names, len(names)):
        value = make(name)
        if value is None:
            continue
        trial = {**row, name: value}
        if p.rules_hold(trial):
            return f"{kind}:{name}", trial
    return None


def _below(p: Plan, c: Ctx, row: Row) -> Mutation | None:
    def make(name: str) -> Any:
        f = p.contract.fields[name]
        lo = f.min or 0.0
        if f.type == "int64":
            return math.ceil(lo) - (1, 1, 5, 100)[int(c.rand() * 4)]
        return round(lo - 0.01 - c.rand() * 10, 2)

    return _first_fit(p, c, "min", p.with_min, row, make)


def _above(p: Plan, c: Ctx, row: Row) -> Mutation | None:
    def make(name: str) -> Any:
        f = p.contract.fields[name]
        hi = f.max or 0.0
        if f.type == "int64":
            return math.floor(hi) + (1, 1, 5, 100)[int(c.rand() * 4)]
        return round(hi + 0.01 + c.rand() * 10, 2)

    return _first_fit(p, c, "max", p.with_max, row, make)


def _off_pattern(p: Plan, c: Ctx, row: Row) -> Mutation | None:
    def make(name: str) -> Any:
        text = str(row.get(name) or name)
        options = (*BAD_PATTERN.get(name, ()), f"{text[:1]} {text[1:]}", f"#{text}", "?")
        misses = [o for o in options if not p.patterns[name].search(p.normal(name, o) or "")]
        return misses[int(c.rand() * len(misses))] if misses else None

    return _first_fit(p, c, "pattern", p.patterns, row, make)


def _off_enum(p: Plan, c: Ctx, row: Row) -> Mutation | None:
    def make(name: str) -> Any:
        allowed = {str(v) for v in p.contract.fields[name].enum or ()}
        text = p.normal(name, row.get(name)) or "x"
        options = (text.replace("_", " "), text.replace("_", "-"), f"{text}s", "unknown", "n/a")
        misses = [o for o in options if p.normal(name, o) not in allowed]
        return misses[int(c.rand() * len(misses))] if misses else None

    return _first_fit(p, c, "enum", p.enums, row, make)


def _in_future(p: Plan, c: Ctx, row: Row) -> Mutation | None:
    def make(name: str) -> Any:
        ts = c.iso(c.now_ms + DAY_MS + int(c.rand() * 6 * 3_600_000))
        return ts[:10] if p.contract.fields[name].type == "date" else ts

    return _first_fit(p, c, "not_future", p.not_future, row, make)


def _missing(p: Plan, c: Ctx, row: Row) -> Mutation | None:
    name = p.required[int(c.rand() * len(p.required))]
    style = int(c.rand() * 3)
    if style == 0:
        del row[name]
    else:
        row[name] = None if style == 1 else ("", "   ", " \t")[int(c.rand() * 3)]
    return (f"required:{name}", row) if p.rules_hold(row) else None


def _mistyped(p: Plan, c: Ctx, row: Row) -> Mutation | None:
    name = p.typed[int(c.rand() * len(p.typed))]
    options = BAD_TYPE[p.contract.fields[name].type]
    row[name] = options[int(c.rand() * len(options))]
    return (f"type:{name}", row) if p.rules_hold(row, null=name) else None


def _against_rule(p: Plan, c: Ctx, row: Row) -> Mutation | None:
    for name in c.rng.sample(list(p.rules), len(p.rules)):
        trial = dict(row)
        p.rules[name].breaks(c, trial)
        if p.rules[name].holds(p.reader(trial)) is False and p.rules_hold(trial, skip=name):
            return f"rule:{name}", trial
    return None


MUTATIONS: dict[str, Callable[[Plan, Ctx, Row], Mutation | None]] = {
    "required": _missing,
    "type": _mistyped,
    "min": _below,
    "max": _above,
    "pattern": _off_pattern,
    "enum": _off_enum,
    "not_future": _in_future,
    "rule": _against_rule,
}


def broken_json(c: Ctx, row: Row) -> str:
    """Broken text the way producers break it: cut off, garbage after, wrong quotes, or valid
    JSON that is not an object. Never contains a newline (one NDJSON line)."""
    text = ENCODE(row)
    style = int(c.rand() * 4)
    if style == 0:
        return text[: max(1, len(text) * 2 // 3)]
    if style == 1:
        return text + ("}", " <EOF>", "]")[int(c.rand() * 3)]
    if style == 2:
        return text.replace('"', "'")
    return ENCODE(list(row.values()))


def invalid_record(p: Plan, c: Ctx, kind: str, recent: list[Row]) -> Labelled:
    """One record of `kind`; `recent` are the last valid records, for duplicates."""
    if kind == "duplicate":
        if recent:
            return Labelled(kind, None, dict(recent[int(c.rand() * len(recent))]))
        kind = "malformed"  # nothing valid to repeat yet (invalid_share == 1)
    for _ in range(ATTEMPTS):
        base = p.valid(c)
        if kind == "malformed":
            return Labelled(kind, "malformed", broken_json(c, base), base)
        done = MUTATIONS[kind](p, c, dict(base))
        if done is not None:
            return Labelled(kind, *done)
    base = p.valid(c)  # the kind cannot be applied cleanly to this contract
    return Labelled("malformed", "malformed", broken_json(c, base), base)
