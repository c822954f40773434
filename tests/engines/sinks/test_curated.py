"""The curated sink names a batch's partition values itself only where every writer would."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from trackline.engines.sinks.curated import label, nameable


def test_days_are_named_as_text_and_days_python_cannot_name_are_refused() -> None:
    days = pa.array([date(2026, 1, 2), date(1969, 12, 31), date(2026, 1, 2), date(1, 1, 1)])
    named = label(days)
    assert named is not None
    assert named.to_pylist() == ["2026-01-02", "1969-12-31", "2026-01-02", "0001-01-01"]
    empty = label(pa.array([], pa.date32()))
    assert empty is not None and empty.to_pylist() == []
    assert label(pa.array([date(2026, 1, 2), None])) is None  # NULL: not named
    before_year_one = pa.array([-719_163, 0], pa.int32()).cast(pa.date32())  # 0000-12-31
    assert label(before_year_one) is None


def test_text_values_are_named_once_and_only_plain_ones_are_nameable() -> None:
    text = label(pa.array(["b", "a", "b", None]))
    assert text is not None and text.dictionary.to_pylist() == ["b", "a"]
    assert text.to_pylist() == ["b", "a", "b", None] and not nameable(text)
    plain = label(pa.array(["b", "a.1", "b-2"]))
    assert plain is not None and nameable(plain)
    blank = label(pa.array(["a b"]))
    assert blank is not None and not nameable(blank)
