"""Beam pipeline options from trackline's flags: the runner, its place, and anything after `--`.

`RunnerOptions` is what `--runner`, `--project`, `--region`, `--temp-location` and
`--num-workers` say, plus every other Beam option passed through as given. On the DirectRunner
it names the FnApiRunner-based modes (`in_memory` for one worker, `multi_threading` for more)
so Beam never tries to download the Prism runner (offline it would fall back after a wait).
Threads, not processes, for more than one worker: the DoFns' work runs in DuckDB, which
releases the GIL, and no SDK worker process has to start and import Beam (1M events of
`bench/beam.py`, 2 workers: 17.7-17.9 s against 22.1-26.7 s in `multi_processing`); give
`-- --direct_running_mode=multi_processing` for separate processes.

The threads are Beam's own in-process gRPC workers, made by `batch_runner` rather than by
`--direct_running_mode=multi_threading`: that mode gives them a one-second output flush on a
thread of its own, and in Beam 2.78 that flush drops whatever a DoFn writes while its hand-off
waits for a full send queue (`SizeBasedBufferingClosableOutputStream.flush` clears the buffer
after the hand-off, not what it handed). Under load whole elements went missing, which the
run's count check caught (`tests/engines/beam/test_interface.py` shows the loss and that these
workers do not lose). Only the writer flushes them, as in Beam's worker processes and on
Dataflow.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from trackline.errors import UsageError
from trackline.extras import require_extra

DIRECT = ("DirectRunner", "direct", "BundleBasedDirectRunner", "SwitchingDirectRunner")
NO_TIMED_FLUSH_MS = 2**31 - 1  # a time-based flush interval that never comes (about 25 days)
_RUNNER = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,127}")


class _ThreadsAlready(logging.Filter):
    """Drops the FnApiRunner's advice to name `multi_threading` for several workers: the
    workers `batch_runner` gives are threads already."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("If direct_num_workers is not equal to 1")


_THREADS_ALREADY = _ThreadsAlready()


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

    @property
    def threads(self) -> bool:
        """Several DirectRunner workers as threads of this process (unless a running mode is
        passed after `--`): `batch_runner` makes them."""
        named = {a.split("=", 1)[0] for a in self.extra}
        return self.direct and self.workers > 1 and "--direct_running_mode" not in named

    def batch_runner(self) -> Any:
        """The runner object for a batch pipeline, or None where `--runner` names it: for
        `threads`, Beam's FnApiRunner with in-process gRPC workers that never flush on a
        timer (the module's docstring says why)."""
        if not self.threads:
            return None
        require_beam()
        from apache_beam.runners.portability.fn_api_runner import fn_runner
        from apache_beam.transforms import environments

        logging.getLogger(fn_runner.__name__).addFilter(_THREADS_ALREADY)
        grpc_threads: Any = environments.EmbeddedPythonGrpcEnvironment  # untyped in Beam
        workers = grpc_threads(data_buffer_time_limit_ms=NO_TIMED_FLUSH_MS)
        return fn_runner.FnApiRunner(default_environment=workers)

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
                # threads: the workers come with `batch_runner`; `multi_threading` would
                # replace them with Beam's default ones
                args.append("--direct_running_mode=in_memory")
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
