"""Load contracts from YAML with errors that name the file, the line and the fix.

Built-in contracts ship in `builtin/`; user contracts come from `Settings.contracts_dir` and
may override a built-in of the same name. Loading is strict: a contract that would fail at run
time (unknown column, unsafe identifier, an expression DuckDB cannot bind) fails here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from trackline.contracts.expressions import check_expression
from trackline.contracts.spec import (
    DUCKDB_TYPES,
    IDENTIFIER,
    NUMERIC_TYPES,
    SYSTEM_COLUMNS,
    TEMPORAL_TYPES,
    Contract,
    parse_partition,
)
from trackline.core.dialect import ident
from trackline.core.names import check_name
from trackline.errors import ContractError, UnknownDatasetError

Path_ = tuple[str | int, ...]


def _compose(text: str, origin: str) -> tuple[Any, dict[Path_, int]]:
    """Parse YAML into plain data plus a map from each key path to its 1-based line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ContractError(
            f"not valid YAML: {getattr(exc, 'problem', exc)}",
            path=origin,
            line=line,
            fix="check indentation and quoting",
        ) from None
    lines: dict[Path_, int] = {}

    def walk(node: yaml.Node | None, path: Path_) -> Any:
        if node is None:
            return None
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = yaml.SafeLoader(  # constructs a scalar key the way safe_load would
                    ""
                ).construct_object(key_node)
                lines[(*path, key)] = key_node.start_mark.line + 1
                if key in out:
                    raise ContractError(
                        f"key {key!r} appears twice",
                        path=origin,
                        line=key_node.start_mark.line + 1,
                        fix="remove one of them",
                    )
                out[key] = walk(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [walk(child, (*path, i)) for i, child in enumerate(node.value)]
        return yaml.SafeLoader("").construct_object(node)

    return walk(root, ()), lines


def _line(lines: dict[Path_, int], path: Iterable[str | int]) -> int | None:
    p = tuple(path)
    while p:
        if p in lines:
            return lines[p]
        p = p[:-1]
    return lines.get(())


def parse_contract(text: str, origin: str) -> Contract:
    """Parse and fully check one contract's YAML text."""
    data, lines = _compose(text, origin)
    if not isinstance(data, dict):
        raise ContractError(
            "a contract must be a YAML mapping",
            path=origin,
            line=1,
            fix="start with `name: <dataset>`",
        )
    try:
        contract = Contract.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [
            p
            for p in err["loc"]
            if not (isinstance(p, str) and p.startswith(("list[", "literal[")))
        ]
        where = ".".join(str(p) for p in loc)
        fix = _fix_for(err)
        raise ContractError(
            f"{where}: {err['msg']}", path=origin, line=_line(lines, loc), fix=fix
        ) from None
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    contract = contract.model_copy(update={"origin": origin, "digest": digest[:16]})
    _check_semantics(contract, lines, origin)
    return contract


def _fix_for(err: Any) -> str:
    kind = err.get("type", "")
    if kind == "literal_error":
        return f"use one of {err.get('ctx', {}).get('expected', 'the listed values')}"
    if kind == "extra_forbidden":
        return "remove the key or check its spelling"
    if kind == "missing":
        return "add the key"
    return "see docs/contracts.md for the format"


def _check_semantics(c: Contract, lines: dict[Path_, int], origin: str) -> None:
    def fail(message: str, path: Iterable[str | int], fix: str) -> None:
        raise ContractError(message, path=origin, line=_line(lines, path), fix=fix)

    if not IDENTIFIER.match(c.name):
        fail(
            f"unsafe dataset name {c.name!r}",
            ["name"],
            "use lower-case letters, digits and underscores, starting with a letter",
        )
    fields = set(c.fields)
    for name in [*c.fields, *c.derived]:
        section = "fields" if name in c.fields else "derived"
        if not IDENTIFIER.match(name):
            fail(
                f"unsafe column name {name!r}",
                [section, name],
                "use lower-case letters, digits and underscores, starting with a letter",
            )
        if name in SYSTEM_COLUMNS:
            fail(f"column name {name!r} is reserved", [section, name], "rename the column")
    for name in c.derived:
        if name in fields:
            fail(
                f"derived column {name!r} has the name of a field",
                ["derived", name],
                "give the derived column its own name",
            )
    if not c.fields:
        fail("a contract needs at least one field", ["fields"], "add a field")
    for name, spec in c.fields.items():
        at = ["fields", name]
        if (spec.min is not None or spec.max is not None) and spec.type not in NUMERIC_TYPES:
            fail(
                f"min/max on non-numeric field {name!r} ({spec.type})",
                at,
                "remove min/max or make the field int64 or float64",
            )
        if spec.min is not None and spec.max is not None and spec.min > spec.max:
            fail(f"field {name!r} has min greater than max", at, "swap them")
        if spec.normalize == "second" and spec.type != "timestamp":
            fail(
                f"normalize: second on non-timestamp field {name!r}",
                [*at, "normalize"],
                "remove normalize or make the field a timestamp",
            )
        elif spec.normalize and spec.normalize != "second" and spec.type != "string":
            fail(f"normalize on non-string field {name!r}", [*at, "normalize"], "remove normalize")
        if spec.pattern is not None:
            if spec.type != "string":
                fail(
                    f"pattern on non-string field {name!r}",
                    [*at, "pattern"],
                    "remove pattern or make the field a string",
                )
            problem = _regex_problem(spec.pattern)
            if problem:
                fail(
                    f"field {name!r}: invalid pattern: {problem}",
                    [*at, "pattern"],
                    "write an RE2 regular expression",
                )
        if spec.not_future and spec.type not in TEMPORAL_TYPES:
            fail(
                f"not_future on non-temporal field {name!r}",
                [*at, "not_future"],
                "remove not_future or make the field a timestamp or date",
            )
        if spec.enum is not None:
            want_int = spec.type == "int64"
            if not spec.enum or any(isinstance(v, int) != want_int for v in spec.enum):
                fail(
                    f"field {name!r}: enum values must be {'integers' if want_int else 'strings'}",
                    [*at, "enum"],
                    "list the allowed values with the field's type",
                )
    for i, key in enumerate(c.primary_key):
        if key not in fields:
            fail(
                f"primary_key names unknown field {key!r}",
                ["primary_key", i],
                f"use one of: {', '.join(sorted(fields))}",
            )
    if c.event_time is not None:
        if c.event_time not in fields:
            fail(
                f"event_time names unknown field {c.event_time!r}",
                ["event_time"],
                f"use one of: {', '.join(sorted(fields))}",
            )
        elif c.fields[c.event_time].type not in TEMPORAL_TYPES:
            fail(
                f"event_time {c.event_time!r} is not a timestamp or date",
                ["event_time"],
                "point event_time at a timestamp or date field",
            )
    for i, spec_text in enumerate(c.partition_by):
        p = parse_partition(spec_text)
        if p is None:
            fail(
                f"cannot read partition {spec_text!r}",
                ["partition_by", i],
                "write a field name, day(field) or month(field)",
            )
            continue
        if p.field not in fields:
            fail(
                f"partition_by names unknown field {p.field!r}",
                ["partition_by", i],
                f"use one of: {', '.join(sorted(fields))}",
            )
        if p.transform != "identity" and c.fields[p.field].type not in TEMPORAL_TYPES:
            fail(
                f"{p.transform}() needs a timestamp or date field, not {p.field!r}",
                ["partition_by", i],
                "partition by the field itself",
            )
    for i, name in enumerate(c.cluster_by):
        if name not in fields:
            fail(
                f"cluster_by names unknown field {name!r}",
                ["cluster_by", i],
                f"use one of: {', '.join(sorted(fields))}",
            )
    columns = fields | set(c.derived)
    for i, name in enumerate(c.slices):
        if name not in columns:
            fail(
                f"slices names unknown column {name!r}",
                ["slices", i],
                f"use one of: {', '.join(sorted(columns))}",
            )
    for i, name in enumerate(c.metrics):
        if name not in columns:
            fail(
                f"metrics names unknown column {name!r}",
                ["metrics", i],
                f"use one of: {', '.join(sorted(columns))}",
            )
        elif name in c.fields and c.fields[name].type not in NUMERIC_TYPES:
            fail(f"metric {name!r} is not numeric", ["metrics", i], "use a numeric column")
    for name, sql in c.derived.items():
        issue = check_expression(sql, fields)
        if issue:
            fail(f"derived {name!r}: {issue.message}", ["derived", name], issue.fix)
    for name, sql in c.rules.items():
        if not IDENTIFIER.match(name):
            fail(
                f"unsafe rule name {name!r}",
                ["rules", name],
                "use lower-case letters, digits and underscores",
            )
        issue = check_expression(sql, columns)
        if issue:
            fail(f"rule {name!r}: {issue.message}", ["rules", name], issue.fix)
    # Last: bind every expression in DuckDB so type errors surface now, at the right line.
    for section, name, message in _binding_problems(c):
        fail(
            f"{section[:-1] if section != 'derived' else section} {name!r}: {message}",
            [section, name],
            "fix the expression so DuckDB can evaluate it on the typed fields",
        )


def _binding_problems(contract: Contract) -> list[tuple[str, str, str]]:
    """Bind each derived column and rule against the typed fields; report what fails."""
    import duckdb

    from trackline.contracts.kernel import new_connection

    con = new_connection(threads=1)
    typed = ", ".join(
        f"CAST(NULL AS {DUCKDB_TYPES[s.type]}) AS {ident(n)}" for n, s in contract.fields.items()
    )
    problems: list[tuple[str, str, str]] = []
    scope = f"(SELECT {typed})"
    for name, sql in contract.derived.items():
        try:
            con.execute(f"SELECT ({sql}) AS {ident(name)} FROM {scope}").fetchall()
        except duckdb.Error as exc:
            problems.append(("derived", name, str(exc).splitlines()[0]))
            return problems
        scope = f"(SELECT *, ({sql}) AS {ident(name)} FROM {scope})"
    for name, sql in contract.rules.items():
        try:
            con.execute(f"SELECT CAST(({sql}) AS BOOLEAN) FROM {scope}").fetchall()
        except duckdb.Error as exc:
            problems.append(("rules", name, str(exc).splitlines()[0]))
    return problems


def _regex_problem(pattern: str) -> str | None:
    import duckdb

    try:
        duckdb.execute("SELECT regexp_matches('', $p)", {"p": pattern}).fetchall()
    except duckdb.Error as exc:
        return str(exc).splitlines()[0]
    return None


def load_file(path: Path) -> Contract:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(f"cannot read contract: {exc}", path=str(path)) from None
    return parse_contract(text, str(path))


@lru_cache(maxsize=1)
def builtin_contracts() -> dict[str, Contract]:
    out: dict[str, Contract] = {}
    folder = resources.files("trackline.contracts") / "builtin"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            c = parse_contract(entry.read_text(encoding="utf-8"), f"builtin:{entry.name}")
            out[c.name] = c
    return out


class ContractRegistry:
    """All contracts known to a configuration: built-ins, then the user's folder."""

    def __init__(self, user_dir: Path | None = None) -> None:
        self._contracts = dict(builtin_contracts())
        if user_dir is not None:
            if not user_dir.is_dir():
                raise ContractError(
                    "contracts_dir is not a folder",
                    path=str(user_dir),
                    fix="create it or unset TRACKLINE_CONTRACTS_DIR",
                )
            for path in sorted([*user_dir.glob("*.yaml"), *user_dir.glob("*.yml")]):
                c = load_file(path)
                self._contracts[c.name] = c

    def names(self) -> list[str]:
        return sorted(self._contracts)

    def all(self) -> list[Contract]:
        return [self._contracts[n] for n in self.names()]

    def get(self, name: str) -> Contract:
        check_name(name, "dataset")
        try:
            return self._contracts[name]
        except KeyError:
            raise UnknownDatasetError(
                f"unknown dataset {name!r}; known: {', '.join(self.names())} "
                "(add a contract YAML to contracts_dir for a new one)"
            ) from None
