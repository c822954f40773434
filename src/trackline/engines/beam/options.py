"""Beam pipeline options from trackline's flags: the runner, its place, and anything after `--`.

`RunnerOptions` is what `--runner`, `--project`, `--region`, `--temp-location` and
`--num-workers` say, plus every other Beam option passed through as given. On the DirectRunner
it names the FnApiRunner-based modes (`in_memory` for one worker, `multi_threading` for more)
so Beam never tries to download the Prism runner (offline it would fall back after a wait).
Threads, not processes, for more than one worker: the DoFns' work runs in DuckDB, which
releases the GIL, and no SDK worker process has to start and import Beam (1M events of
`bench/beam.py`, 2 workers: 17.7-17.9 s against 22.1-26.7 s in `multi_processing`); give
`-- --direct_running_mode=multi_processing` for separate processes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from trackline.errors import UsageError
from trackline.extras import require_extra

DIRECT = ("DirectRunner", "direct", "BundleBasedDirectRunner", "SwitchingDirectRunner")
_RUNNER = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,127}")


def require_beam(what: str = "--engine beam") -> Any:
    """The `apache_beam` module, or exit 2 naming the extra (`trackline[beam]`)."""
    return require_extra("apache_beam", "beam", what)


@dataclass(frozen=True)
class RunnerOptions:
    """Where a Beam pipeline runs: the flags trackline names and the options passed through."""

    runner: str = "DirectRunner"
    project: str | None = None
    region: str | None = None
    temp_location: str | None = None
    num_workers: int | None = None
    extra: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not _RUNNER.fullmatch(self.runner):
            raise UsageError(f"--runner {self.runner!r} is not a runner name (e.g. DirectRunner)")
        if self.num_workers is not None and self.num_workers < 1:
            raise UsageError(f"--num-workers must be at least 1, got {self.num_workers}")
        for arg in self.extra:
            if not arg.startswith("--"):
                raise UsageError(
                    f"Beam option {arg!r} after `--` must look like --name=value or --flag"
                )

    @property
    def direct(self) -> bool:
        return self.runner in DIRECT

    @property
    def workers(self) -> int:
        """Workers the pipeline gets on the DirectRunner (one unless told)."""
        return self.num_workers or 1

    def args(self, *, streaming: bool = False) -> list[str]:
        """The pipeline's arguments, trackline's first, the pass-through ones last (they win)."""
        runner = self.runner
        if streaming and runner in ("DirectRunner", "direct"):
            runner = "BundleBasedDirectRunner"  # streams without trying to fetch Prism
        args = [f"--runner={runner}"]
        for name, value in (
            ("project", self.project),
            ("region", self.region),
            ("temp_location", self.temp_location),
        ):
            if value:
                args.append(f"--{name}={value}")
        named = {a.split("=", 1)[0] for a in self.extra}
        if self.direct and not streaming:
            if "--direct_running_mode" not in named:
                mode = "multi_threading" if self.workers > 1 else "in_memory"
                args.append(f"--direct_running_mode={mode}")
            if "--direct_num_workers" not in named:
                args.append(f"--direct_num_workers={self.workers}")
        elif self.num_workers is not None:
            args.append(f"--num_workers={self.num_workers}")
        if streaming and "--streaming" not in named:
            args.append("--streaming")
        return [*args, *self.extra]

    def pipeline_options(self, *, streaming: bool = False) -> Any:
        """Beam's `PipelineOptions` for these arguments (imports Beam)."""
        require_beam()
        from apache_beam.options.pipeline_options import PipelineOptions

        return PipelineOptions(self.args(streaming=streaming))
