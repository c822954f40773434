"""A contract prepared for generation: field factories in order, and the candidates per kind.

The plan also reads a row the way the kernel will (trimmed, blank as missing, case
normalised), so an invalid record can be checked to break exactly the one thing it should.
"""

from __future__ import annotations

import re
from typing import Any

from trackline.contracts.spec import Contract
from trackline.generate.context import Ctx
from trackline.generate.fields import by_type
from trackline.generate.labels import INVALID_KINDS, Row
from trackline.generate.rules import Getter
from trackline.generate.specs import spec_for

WS = " \t\r\n"  # what the kernel trims


def applicable_kinds(contract: Contract) -> tuple[str, ...]:
    """The invalid kinds this contract catches: `pattern` needs a field with a pattern, `rule`
    a rule the generator knows how to break, and so on."""
    fs = contract.fields.values()
    has = {
        "malformed": True,
        "required": bool(contract.primary_key) or any(f.required for f in fs),
        "type": any(f.type != "string" for f in fs),
        "min": any(f.min is not None for f in fs),
        "max": any(f.max is not None for f in fs),
        "pattern": any(f.pattern for f in fs),
        "enum": any(f.enum is not None and f.type == "string" for f in fs),
        "not_future": any(f.not_future for f in fs),
        "rule": bool(set(spec_for(contract.name).rules) & set(contract.rules)),
        "duplicate": True,
    }
    return tuple(k for k in INVALID_KINDS if has[k])


class Plan:
    def __init__(self, contract: Contract) -> None:
        spec = spec_for(contract.name)
        fs, keys = contract.fields, set(contract.primary_key)
        self.contract = contract
        self.begin = spec.begin
        self.factories = [
            (n, spec.fields.get(n) or by_type(n, f, n in keys)) for n, f in fs.items()
        ]
        self.rules = {n: r for n, r in spec.rules.items() if n in contract.rules}
        self.normalize = {n: f.normalize for n, f in fs.items() if f.normalize}
        self.required = [n for n, f in fs.items() if f.required or n in keys]
        self.typed = [n for n, f in fs.items() if f.type != "string"]
        self.with_min = [n for n, f in fs.items() if f.min is not None]
        self.with_max = [n for n, f in fs.items() if f.max is not None]
        self.patterns = {n: re.compile(f.pattern) for n, f in fs.items() if f.pattern}
        self.enums = [n for n, f in fs.items() if f.enum is not None and f.type == "string"]
        self.not_future = [n for n, f in fs.items() if f.not_future]
        self.kinds = applicable_kinds(contract)

    def valid(self, c: Ctx) -> Row:
        c.next_base()
        self.begin(c)
        return {name: make(c) for name, make in self.factories}

    def normal(self, name: str, value: Any) -> Any:
        """A value as the kernel sees it: trimmed, blank as missing, case-normalised."""
        if not isinstance(value, str):
            return value
        value = value.strip(WS)
        if not value:
            return None
        norm = self.normalize.get(name)
        if norm == "lower_trim":
            return value.lower()
        return value.upper() if norm == "upper_trim" else value

    def reader(self, row: Row, null: str | None = None) -> Getter:
        """Read a row's fields as the kernel would (`null`: a field whose cast will fail)."""
        return lambda n: None if n == null else self.normal(n, row.get(n))

    def rules_hold(self, row: Row, *, null: str | None = None, skip: str | None = None) -> bool:
        """True unless a rule (but `skip`) is false for this row."""
        get = self.reader(row, null)
        return all(r.holds(get) is not False for n, r in self.rules.items() if n != skip)
