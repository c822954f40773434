"""Field values: a dataset's field sources (written as data) made into fast functions.

A source is a short phrase from `data/datasets.yaml` (`track.artist.name`, `vary row.device`,
`group.order_id`, `pick cities`...); `field_factory` turns it into a function of the run's
`Ctx`, called once per field per record. A field no dataset lists gets a value by its type.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from trackline.contracts.spec import FieldSpec
from trackline.generate.context import Ctx
from trackline.generate.vocabulary import pool

Factory = Callable[[Ctx], Any]

#: Sources that are a whole word: the run's own helpers.
WORDS: dict[str, Factory] = {
    "uuid": Ctx.uuid,
    "time": Ctx.ts,
    "serial": lambda c: c.serial,
    "rank": lambda c: c.pos + 1,
    "country": Ctx.country,
    "genre": Ctx.genre,
}


#: The listener's and track's attributes most fields read, as plain attribute access: a
#: lambda is faster than `attrgetter` with a dotted name, and these run for every record.
ATTRIBUTES: dict[str, Factory] = {
    "user.id": lambda c: c.user.id,
    "track.id": lambda c: c.track.id,
    "track.name": lambda c: c.track.name,
    "track.album": lambda c: c.track.album,
    "track.duration_ms": lambda c: c.track.duration_ms,
    "track.popularity": lambda c: c.track.popularity,
    "track.artist.id": lambda c: c.track.artist.id,
    "track.artist.name": lambda c: c.track.artist.name,
}


def _path(source: str) -> Factory:
    """`user.ATTR`, `track.ATTR...`, `row.NAME[.ATTR...]` or `group.NAME`."""
    head, _, rest = source.partition(".")
    if not rest:
        raise ValueError(f"unknown field source {source!r}")
    if head in ("user", "track"):
        return ATTRIBUTES.get(source) or attrgetter(source)
    name, _, attrs = rest.partition(".")
    if head == "row" and attrs:
        get = attrgetter(attrs)
        return lambda c: get(c.v[name])
    if head == "row":
        return lambda c: c.v[name]
    if head == "group" and not attrs:
        return lambda c: c.g[name]
    raise ValueError(f"unknown field source {source!r}")


def field_factory(source: str) -> Factory:
    """The function that makes a field's value from its source phrase (see the data file)."""
    words = source.split()
    if words[0] == "vary" and len(words) > 1:
        head, _, name = words[1].partition(".")
        if len(words) == 2 and head == "row" and "." not in name:  # the common cases...
            return lambda c: c.vary(c.v[name])
        if len(words) == 2 and head == "group" and "." not in name:  # ...without a nested call
            return lambda c: c.vary(c.g[name])
        inner = field_factory(" ".join(words[1:]))
        return lambda c: c.vary(inner(c))
    if words[0] == "pick" and len(words) == 2:
        pick = pool(words[1]).pick
        return lambda c: pick(c.rand)
    if len(words) == 1:
        return WORDS.get(source) or _path(source)
    raise ValueError(f"unknown field source {source!r}")


def by_type(name: str, spec: FieldSpec, key: bool) -> Factory:
    """A value for a field no spec knows (a user's own contract or added field): best effort,
    within min/max and enum; a pattern is only honoured by leaving an optional field empty."""
    lo = spec.min if spec.min is not None else 0.0
    hi = spec.max if spec.max is not None else lo + 1000.0
    if spec.enum is not None:
        values: list[Any] = list(spec.enum)
        return lambda c: values[int(c.rand() * len(values))]
    if spec.type == "int64":
        if key:
            return lambda c: math.ceil(lo) + c.serial
        return lambda c: c.between(math.ceil(lo), math.floor(hi))
    if spec.type == "float64":
        return lambda c: round(lo + c.rand() * (hi - lo), 2)
    if spec.type == "bool":
        return lambda c: c.rand() < 0.5
    if spec.type == "timestamp":
        return Ctx.ts
    if spec.type == "date":
        return lambda c: c.ts()[:10]
    if spec.pattern is not None and not (spec.required or key):
        return lambda c: None
    return lambda c: f"{name}_{c.serial}"
