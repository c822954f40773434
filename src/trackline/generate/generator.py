"""Deterministic, realistic records for every built-in dataset, with invalid ones on purpose.

Demos, tests and benchmarks need data that looks like the real sources (skewed genres and
countries, Spotify-like ids, Fake Store products) and that trips every check a contract makes.
Each invalid record breaks exactly one thing and carries the reason code the kernel must
report, so a test can prove the kernel catches it.

This module is the generator's public face; the parts, each in its own module:
- `catalogue`: a fixed set of artists, tracks and listeners, the same for every seed so that
  datasets generated separately (and the fake APIs' answers) still join;
- `vocabulary` and `specs`: the words and weights, and per dataset the row maker, where each
  field's value comes from and the contract's rules, all data in `data/*.yaml`; a field a
  user's contract adds without a spec gets a value by its type (`fields`);
- `listening` and `commerce`: the row makers, which pick a row's entities and correlated
  numbers (a track and a position inside it, an order's lifecycle, a cart's lines);
- `invalid`: an invalid record is a fresh valid one with one mutation, checked against Python
  mirrors of the contract's rules (`rules`) so that, say, a `min` record never breaks a rule;
- `records` spreads the invalid records among the valid ones; `writers` writes them as
  NDJSON, a JSON array, CSV or Parquet (each optionally gzipped).
"""

from __future__ import annotations

from trackline.generate.catalogue import World, world
from trackline.generate.encode import ENCODE
from trackline.generate.labels import INVALID_KINDS, Labelled, Record
from trackline.generate.plan import applicable_kinds
from trackline.generate.records import labelled_records, records
from trackline.generate.vocabulary import (
    CITIES,
    COUNTRIES,
    FIRST,
    LAST,
    NOUN,
    PLAYLISTS,
    PRODUCT_WORDS,
)
from trackline.generate.writers import GeneratedFile, output_format, write

__all__ = [
    "CITIES",
    "COUNTRIES",
    "ENCODE",
    "FIRST",
    "INVALID_KINDS",
    "LAST",
    "NOUN",
    "PLAYLISTS",
    "PRODUCT_WORDS",
    "GeneratedFile",
    "Labelled",
    "Record",
    "World",
    "applicable_kinds",
    "labelled_records",
    "output_format",
    "records",
    "world",
    "write",
]
