"""The generator's shipped data (`data/*.yaml`): read once per process."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml


@cache
def load(name: str) -> Any:
    """`data/<name>.yaml` as plain data (mappings keep the file's order)."""
    text = (resources.files("trackline.generate") / "data" / f"{name}.yaml").read_text("utf-8")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
