"""Where a BigQuery warehouse lives: `bigquery://PROJECT/DATASET`, checked before any call."""

from __future__ import annotations

import re
from dataclasses import dataclass

from trackline.errors import ConfigError

PROJECT = re.compile(r"^[a-z][a-z0-9:.-]{0,127}$")  # "domain.com:project" kept possible
DATASET = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,1023}$")


@dataclass(frozen=True)
class Target:
    """Where the warehouse lives: a project and a dataset."""

    project: str
    dataset: str

    @classmethod
    def parse(cls, uri: str) -> Target:
        rest = uri.removeprefix("bigquery://")
        project, _, dataset = rest.partition("/")
        dataset = dataset.rstrip("/")
        if not PROJECT.match(project) or not DATASET.match(dataset):
            raise ConfigError(
                f"invalid BigQuery warehouse URI {uri!r}: use bigquery://PROJECT/DATASET "
                "(a dataset name is letters, digits and underscores)"
            )
        return cls(project, dataset)

    def table(self, name: str) -> str:
        return f"{self.project}.{self.dataset}.{name}"

    @property
    def uri(self) -> str:
        return f"bigquery://{self.project}/{self.dataset}"
