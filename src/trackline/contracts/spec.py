"""The contract: one dataset described as data (design.md 3.1).

A contract is plain YAML validated into these models. Cross-field checks (unknown columns,
unsafe identifiers, expressions) live in `loader.py` because they need the file's line numbers.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FieldType = Literal["string", "int64", "float64", "bool", "timestamp", "date"]
#: `second` (timestamps): truncated to the whole second, so sources of different precision
#: give one key (an API's milliseconds, an export's seconds)
Normalize = Literal["trim", "lower_trim", "upper_trim", "second"]

#: Column names the engine adds to every warehouse table.
SYSTEM_COLUMNS = ("ingestion_time", "run_id")
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
NUMERIC_TYPES = frozenset({"int64", "float64"})
TEMPORAL_TYPES = frozenset({"timestamp", "date"})

#: DuckDB type for each contract type.
DUCKDB_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "int64": "BIGINT",
    "float64": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
    "date": "DATE",
}


class FieldSpec(BaseModel):
    """One column: its type and the checks a value must pass."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: FieldType
    required: bool = False
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    enum: list[str] | list[int] | None = None
    not_future: bool = False
    normalize: Normalize | None = None
    description: str = ""


class Partition(BaseModel):
    """A Hive partition key: a field, or a day/month of a temporal field."""

    model_config = ConfigDict(frozen=True)

    transform: Literal["identity", "day", "month"]
    field: str

    @property
    def column(self) -> str:
        """Name of the partition directory key (`<column>=<value>`)."""
        if self.transform == "identity":
            return self.field
        return f"{self.field}_{self.transform}"

    @property
    def spec(self) -> str:
        return self.field if self.transform == "identity" else f"{self.transform}({self.field})"


PARTITION_SPEC = re.compile(r"^\s*(?:(day|month)\(\s*([a-z][a-z0-9_]*)\s*\)|([a-z][a-z0-9_]*))\s*$")


def parse_partition(spec: str) -> Partition | None:
    m = PARTITION_SPEC.match(spec)
    if not m:
        return None
    if m.group(3):
        return Partition(transform="identity", field=m.group(3))
    return Partition(transform=m.group(1), field=m.group(2))  # type: ignore[arg-type]


class Contract(BaseModel):
    """A dataset's schema, rules, keys and reporting hints."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: int = Field(ge=1)
    description: str = ""
    primary_key: list[str] = Field(default_factory=list)
    event_time: str | None = None
    partition_by: list[str] = Field(default_factory=list)
    cluster_by: list[str] = Field(default_factory=list)
    fields: dict[str, FieldSpec]
    rules: dict[str, str] = Field(default_factory=dict)
    derived: dict[str, str] = Field(default_factory=dict)
    slices: list[str] = Field(default_factory=list)
    metrics: list[str] = Field(default_factory=list)
    #: Where the contract came from (file path or "builtin:<file>"); not part of the YAML.
    origin: str = Field(default="", exclude=True)
    #: Hash of the contract's canonical content, for manifests and run ids.
    digest: str = Field(default="", exclude=True)

    @property
    def partitions(self) -> list[Partition]:
        out = []
        for spec in self.partition_by:
            p = parse_partition(spec)
            if p is not None:
                out.append(p)
        return out

    @property
    def key_columns(self) -> list[str]:
        """Columns that identify a record; every field when no primary key is declared."""
        return list(self.primary_key) if self.primary_key else list(self.fields)

    @property
    def unique_text_key(self) -> list[str]:
        """The primary key when it is one string field, else nothing.

        Its values are (nearly) all distinct: a dictionary never pays for it, and general
        compressors gain little on ids, so the warehouse and the curated files store it plain.
        """
        key = self.primary_key
        if len(key) == 1 and key[0] in self.fields and self.fields[key[0]].type == "string":
            return [key[0]]
        return []

    @property
    def output_columns(self) -> list[str]:
        return [*self.fields, *self.derived]
