"""`--engine beam` from the shell: the flags, the pass-through options, and exit 2 without Beam."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trackline.engines import ENGINES, open_engine
from trackline.engines.beam.options import RunnerOptions
from trackline.errors import UsageError
from trackline.generate.writers import write

NOW = datetime.now(UTC)


def run(tmp_path: Path, *args: str, hide_beam: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLINE_")}
    env["TRACKLINE_HOME"] = str(tmp_path / "home")
    if hide_beam:  # a package named apache_beam that fails to import, as if not installed
        fake = tmp_path / "nobeam" / "apache_beam"
        fake.mkdir(parents=True, exist_ok=True)
        (fake / "__init__.py").write_text("raise ImportError('not installed')\n")
        env["PYTHONPATH"] = os.pathsep.join([str(fake.parent), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "trackline", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def test_ingest_with_beam_from_the_shell_same_counts_as_local(tmp_path: Path) -> None:
    f = write("listens", 300, tmp_path / "l.ndjson", invalid_share=0.2, seed=3).path
    beam = run(
        tmp_path, "ingest", str(f), "-d", "listens", "--engine", "beam", "--json",
        "--", "--direct_num_workers=1",
    )  # fmt: skip
    assert beam.returncode == 0, beam.stderr
    got = json.loads(beam.stdout)
    assert got["counts"]["input"] == 300 and got["counts"]["rejected"] > 0
    local = run(
        tmp_path, "--home", str(tmp_path / "h2"), "ingest", str(f), "-d", "listens", "--json"
    )
    assert local.returncode == 0, local.stderr
    assert json.loads(local.stdout)["counts"] == got["counts"]
    assert json.loads(local.stdout)["run_id"] == got["run_id"]


def test_without_apache_beam_exit_2_naming_the_extra(tmp_path: Path) -> None:
    f = write("listens", 10, tmp_path / "l.ndjson", seed=1).path
    done = run(tmp_path, "ingest", str(f), "-d", "listens", "--engine", "beam", hide_beam=True)
    assert done.returncode == 2
    assert "trackline[beam]" in done.stderr
    assert "Traceback" not in done.stderr
    # the local engine does not need it
    ok = run(tmp_path, "ingest", str(f), "-d", "listens", "--json", hide_beam=True)
    assert ok.returncode == 0, ok.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--num-workers", "2"],  # a Beam flag without --engine beam
        ["--", "--streaming"],  # Beam options without --engine beam
        ["--engine", "spark"],
        ["--engine", "beam", "--num-workers", "0"],
        ["--engine", "beam", "--runner", "Direct Runner;rm"],
    ],
)
def test_unusable_engine_calls_exit_2_in_one_line(tmp_path: Path, args: list[str]) -> None:
    f = write("listens", 5, tmp_path / "l.ndjson", seed=1).path
    done = run(tmp_path, "ingest", str(f), "-d", "listens", *args)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "home" / "warehouse.duckdb").exists()


def test_runner_options_name_the_offline_direct_modes_and_pass_the_rest() -> None:
    one = RunnerOptions().args()
    assert "--direct_running_mode=in_memory" in one and "--direct_num_workers=1" in one
    two = RunnerOptions(num_workers=2)  # threads: the runner object brings the workers
    assert (
        "--direct_running_mode=in_memory" in two.args() and "--direct_num_workers=2" in two.args()
    )
    assert two.threads and two.batch_runner() is not None and RunnerOptions().batch_runner() is None
    mine = RunnerOptions(num_workers=2, extra=("--direct_running_mode=multi_processing",))
    assert [a for a in mine.args() if a.startswith("--direct_running_mode")] == [
        "--direct_running_mode=multi_processing"
    ]
    assert mine.batch_runner() is None  # the mode asked for, as Beam makes it
    flow = RunnerOptions(
        runner="DataflowRunner",
        project="p",
        region="europe-west1",
        temp_location="gs://b/tmp",
        num_workers=5,
        extra=("--machine_type=n2-standard-4",),
    ).args()
    assert flow == [
        "--runner=DataflowRunner",
        "--project=p",
        "--region=europe-west1",
        "--temp_location=gs://b/tmp",
        "--num_workers=5",
        "--machine_type=n2-standard-4",
    ]
    with pytest.raises(UsageError):
        RunnerOptions(extra=("machine_type=n2",))


def test_engines_registry_opens_beam() -> None:
    assert set(ENGINES) == {"local", "beam"}
    with pytest.raises(UsageError):
        open_engine("spark", None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "args",
    [
        ["--subscription", "projects/p/subscriptions/s"],  # a Beam flag without --engine beam
        ["--engine", "beam", "--max-events", "1"],  # the bus's flags are not Beam's
        ["--engine", "beam", "--topic", "events"],  # a short topic name needs --project
        ["--engine", "beam", "--subscription", "projects/p/topics/t"],
        ["--engine", "beam", "--project", "p", "--id-label", "id"],  # not on the DirectRunner
    ],
)
def test_unusable_stream_calls_exit_2_in_one_line(tmp_path: Path, args: list[str]) -> None:
    done = run(tmp_path, "stream", *args)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_stream_with_beam_without_apache_beam_exit_2(tmp_path: Path) -> None:
    done = run(tmp_path, "stream", "--engine", "beam", "--project", "p", hide_beam=True)
    assert done.returncode == 2
    assert "trackline[beam]" in done.stderr
