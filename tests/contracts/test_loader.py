"""Contracts load strictly: every built-in is valid, a bad one names file, line and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackline.contracts.loader import ContractRegistry, builtin_contracts, parse_contract
from trackline.errors import ContractError, UnknownDatasetError

BUILTINS = {
    "playlist_tracks",
    "listens",
    "top_tracks",
    "top_artists",
    "listening_events",
    "feedback",
    "orders",
    "inventory",
    "user_activity",
    "products",
    "users",
    "carts",
    "episodes",
}

GOOD = """\
name: things
version: 2
primary_key: [id]
event_time: seen_at
partition_by: [day(seen_at)]
fields:
  id:      {type: string, required: true}
  size:    {type: int64, min: 0}
  views:   {type: int64}
  likes:   {type: int64}
  seen_at: {type: timestamp, not_future: true}
rules:
  likes_le_views: likes <= views
derived:
  ratio: likes / nullif(views, 0)
slices: [id]
metrics: [ratio]
"""


def test_every_builtin_loads() -> None:
    assert set(builtin_contracts()) == BUILTINS
    for c in builtin_contracts().values():
        assert c.digest and c.origin.startswith("builtin:")
        assert c.key_columns


def test_only_a_one_string_field_key_is_a_unique_text_key() -> None:
    contracts = builtin_contracts()
    assert contracts["listening_events"].unique_text_key == ["event_id"]
    for c in contracts.values():
        key = c.primary_key
        expected = key if len(key) == 1 and c.fields[key[0]].type == "string" else []
        assert c.unique_text_key == expected
    assert any(not c.unique_text_key for c in contracts.values())  # composite keys exist


def test_good_contract_parses() -> None:
    c = parse_contract(GOOD, "things.yaml")
    assert c.version == 2
    assert [p.column for p in c.partitions] == ["seen_at_day"]
    assert c.output_columns == ["id", "size", "views", "likes", "seen_at", "ratio"]


def _error(text: str) -> ContractError:
    with pytest.raises(ContractError) as info:
        parse_contract(text, "bad.yaml")
    return info.value


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("size:    {type: int64, min: 0}", "size:    {type: integer, min: 0}", 8, "size.type"),
        ("likes_le_views: likes <= views", "likes_le_views: likes <= viewz", 13, "viewz"),
        ("ratio: likes / nullif(views, 0)", "ratio: likes / nullif(nope, 0)", 15, "nope"),
        ("  views:   {type: int64}", '  "views; drop table x":   {type: int64}', 9, "unsafe"),
        ("primary_key: [id]", "primary_key: [idd]", 3, "idd"),
        ("partition_by: [day(seen_at)]", "partition_by: [day(size)]", 5, "day()"),
        ("metrics: [ratio]", "metrics: [rati]", 17, "rati"),
        (
            "likes_le_views: likes <= views",
            "likes_le_views: (SELECT count(*) FROM t) > 0",
            13,
            "query",
        ),
        (
            "likes_le_views: likes <= views",
            "likes_le_views: length(read_text('x')) > 0",
            13,
            "not allowed",
        ),
        ("size:    {type: int64, min: 0}", "size:    {type: int64, colour: red}", 8, "colour"),
        ("ratio: likes / nullif(views, 0)", "ratio: lower(likes) || 1", 15, "derived"),
    ],
)
def test_bad_contract_names_file_line_and_fix(old: str, new: str, line: int, words: str) -> None:
    assert old in GOOD
    err = _error(GOOD.replace(old, new))
    assert err.path == "bad.yaml"
    assert err.line == line, str(err)
    assert words in str(err)
    assert err.fix, "every contract error suggests a fix"
    assert str(err).startswith(f"bad.yaml:{line}: ")


def test_invalid_yaml_and_bad_regex() -> None:
    err = _error("name: x\nfields: {a: {type: string}\n")
    assert err.line is not None
    err = _error(
        GOOD.replace("{type: string, required: true}", '{type: string, pattern: "(unclosed"}')
    )
    assert err.line == 7 and "pattern" in str(err)


def test_registry_user_folder_overrides_and_unknown(tmp_path: Path) -> None:
    (tmp_path / "things.yaml").write_text(GOOD)
    reg = ContractRegistry(tmp_path)
    assert "things" in reg.names() and set(reg.names()) >= BUILTINS
    with pytest.raises(UnknownDatasetError, match="known: "):
        reg.get("nope")
    with pytest.raises(ContractError):
        ContractRegistry(tmp_path / "missing")
