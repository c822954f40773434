"""Each built-in dataset's spec: its row maker, field sources and rule mirrors.

The specs are data (`data/datasets.yaml`); this module joins them to the code they name
(row makers, field factories, rule mirrors) once per process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from trackline.generate import commerce, listening
from trackline.generate.context import Ctx
from trackline.generate.datafiles import load
from trackline.generate.fields import Factory, field_factory
from trackline.generate.rules import Rule, rule_from_data

ROW_MAKERS: dict[str, Callable[[Ctx], None]] = {**listening.ROW_MAKERS, **commerce.ROW_MAKERS}


def _no_picks(c: Ctx) -> None:
    """The row maker of a dataset without a spec: fields by type need no picks."""


@dataclass(frozen=True)
class Spec:
    """How to make one dataset's rows: `begin` makes the row's picks, `fields` projects them,
    `rules` mirrors the contract's rules by name."""

    fields: dict[str, Factory]
    begin: Callable[[Ctx], None] = _no_picks
    rules: dict[str, Rule] = field(default_factory=dict)


def _spec(name: str, data: dict[str, Any], sets: dict[str, dict[str, str]]) -> Spec:
    try:
        sources = {**sets[data["with"]]} if "with" in data else {}
        sources.update(data.get("fields", {}))
        return Spec(
            fields={f: field_factory(source) for f, source in sources.items()},
            begin=ROW_MAKERS[data["rows"]],
            rules={r: rule_from_data(d) for r, d in data.get("rules", {}).items()},
        )
    except (KeyError, ValueError) as exc:  # shipped data names code that is not there
        raise ValueError(f"generator dataset {name!r}: {exc}") from exc


@cache
def specs() -> dict[str, Spec]:
    """The built-in datasets' specs by dataset name."""
    data = load("datasets")
    sets = data.get("field_sets", {})
    return {name: _spec(name, d, sets) for name, d in data["datasets"].items()}


def spec_for(dataset: str) -> Spec:
    """A dataset's spec; a dataset without one (a user's own) gets every field by type."""
    return specs().get(dataset) or Spec(fields={})
