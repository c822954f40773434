"""Land: each input copied byte for byte into the lake's raw area, as received.

I/O only: an engine runs it beside the check and joins it before anything commits.
"""

from __future__ import annotations

from trackline.lake import Lake
from trackline.runs.manifest import Manifest
from trackline.sources.base import InputFile


def land(lake: Lake, files: list[InputFile], manifest: Manifest, raw_dir: str) -> None:
    """Copy each input under `raw_dir` (`part-<n>-<name>`) and note where in the manifest."""
    for i, (f, rec) in enumerate(zip(files, manifest.inputs, strict=True)):
        landed = lake.land(f.uri, f"{raw_dir}/part-{i:05d}-{f.name}", sha256=rec.sha256)
        rec.landed = lake.display(landed.path)
