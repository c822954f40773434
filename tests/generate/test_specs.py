"""The shipped dataset specs (data) against the built-in contracts and the code they name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from trackline.contracts.loader import ContractRegistry
from trackline.generate.context import Ctx
from trackline.generate.fields import field_factory
from trackline.generate.specs import spec_for, specs
from trackline.generate.vocabulary import CITIES

REGISTRY = ContractRegistry()
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_every_builtin_dataset_has_a_spec_for_each_field_and_rule() -> None:
    """A field left out of the data would silently fall back to a value by type."""
    assert set(specs()) == set(REGISTRY.names())
    for contract in REGISTRY.all():
        spec = specs()[contract.name]
        assert set(contract.fields) <= set(spec.fields), contract.name
        assert set(contract.rules) == set(spec.rules), contract.name


def test_a_dataset_without_a_spec_gets_an_empty_one() -> None:
    spec = spec_for("gadgets")
    assert spec.fields == {} and spec.rules == {}


def _ctx() -> Ctx:
    c = Ctx("t:1", NOW, 10)
    c.next_base()
    c.listen()
    c.v = {"device": "mobile", "item": c.world.artists.items[3]}
    c.g = {"order_id": "ord_1"}
    return c


def test_field_sources_read_the_row_the_group_and_the_run() -> None:
    c = _ctx()
    assert field_factory("user.id")(c) == c.user.id
    assert field_factory("track.artist.name")(c) == c.track.artist.name
    assert field_factory("row.device")(c) == "mobile"
    assert field_factory("row.item.followers")(c) == c.world.artists.items[3].followers
    assert field_factory("group.order_id")(c) == "ord_1"
    assert field_factory("serial")(c) == 1
    assert field_factory("time")(c).startswith("2025-")
    cities = {field_factory("pick cities")(c) for _ in range(500)}
    assert "new york" in cities and cities <= set(CITIES.items)


def test_vary_keeps_the_value_up_to_case_and_spacing() -> None:
    c = _ctx()
    made = [field_factory("vary row.device")(c) for _ in range(2000)]
    assert {m.strip().lower() for m in made} == {"mobile"}
    assert "mobile" in made and any(m != "mobile" for m in made)


@pytest.mark.parametrize("source", ["nonsense", "row", "group.a.b", "pick nope", "two words"])
def test_an_unknown_field_source_is_an_error(source: str) -> None:
    with pytest.raises((ValueError, KeyError)):
        field_factory(source)
