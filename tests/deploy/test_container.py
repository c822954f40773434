"""The container: the Dockerfile linted by hadolint, its commands checked against the CLI, and
its install steps run in a clean virtualenv. `docker build` itself is not run here (no daemon,
no registry to pull base images from)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def hadolint(path: Path) -> tuple[int, list[dict[str, Any]]]:
    exe = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    proc = subprocess.run(
        [exe, "--format", "json", "--failure-threshold", "info", str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return proc.returncode, json.loads(proc.stdout or "[]")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per Dockerfile instruction, continuation lines joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def stage(name: str) -> list[tuple[str, str]]:
    """The instructions of one build stage."""
    found: list[tuple[str, str]] = []
    inside = False
    for ins, args in instructions():
        if ins == "FROM":
            inside = args.endswith(f" AS {name}")
        if inside:
            found.append((ins, args))
    assert found, f"no stage {name}"
    return found


def test_hadolint_finds_nothing_even_at_info_level(tmp_path: Path) -> None:
    code, findings = hadolint(DOCKERFILE)
    assert (code, findings) == (0, [])
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install flask\n")  # untagged, unpinned, root
    code, findings = hadolint(bad)
    assert code != 0 and {"DL3006", "DL3013"} <= {f["code"] for f in findings}


def test_the_image_is_multi_stage_slim_non_root_with_trackline_as_entrypoint() -> None:
    build = stage("build")
    assert "slim" in build[0][1]
    assert ("ARG", "EXTRAS=web,gcp,postgres,redis") in build
    [install] = [a for i, a in build if i == "RUN" and "pip install" in a]
    assert '".[${EXTRAS}]"' in install  # extras by build argument
    runtime = stage("runtime")
    assert "slim" in runtime[0][1]
    assert ("COPY", "--from=build /opt/trackline /opt/trackline") in runtime
    users = [a for i, a in runtime if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert ("ENTRYPOINT", '["trackline"]') in runtime
    assert not any(i == "RUN" and "pip install" in a for i, a in runtime)  # no build tools
    dataflow = stage("dataflow")
    assert dataflow[0] == ("FROM", "runtime AS dataflow")
    assert any(i == "COPY" and "/opt/google/dataflow/python_template_launcher" in a
               for i, a in dataflow)  # fmt: skip
    assert ("ENTRYPOINT", '["/opt/apache/beam/boot"]') in dataflow  # an SDK container too
    flex = [a for i, a in dataflow if i == "ENV" and "FLEX_TEMPLATE_PYTHON_PY_FILE" in a]
    main = flex[0].split("FLEX_TEMPLATE_PYTHON_PY_FILE=")[1].split()[0]
    assert (
        main.endswith("/dataflow/main.py") and (ROOT / "deploy" / "dataflow" / "main.py").exists()
    )


def cli_accepts(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Whether the real CLI parses these arguments (`--help` stops before running anything)."""
    return subprocess.run(
        [sys.executable, "-m", "trackline", *args, "--help"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_compose_runs_the_worker_and_dashboard_with_postgres_redis_and_pubsub() -> None:
    doc = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = doc["services"]
    assert set(services) == {"worker", "dashboard", "postgres", "redis", "pubsub"}
    worker, dash = services["worker"], services["dashboard"]
    assert worker["build"]["context"] == "." and dash["image"] == worker["image"]
    for svc, port in ((worker, 8080), (dash, 8050)):
        assert svc["ports"] == [f"127.0.0.1:{port}:{port}"]  # loopback only
        env = svc["environment"]
        assert (
            env["TRACKLINE_STATE_URI"].startswith("postgresql://")
            and "@postgres:" in env["TRACKLINE_STATE_URI"]
        )
        assert env["TRACKLINE_SERVING_URI"].startswith("redis://redis:")
        assert env["PUBSUB_EMULATOR_HOST"] == "pubsub:8085"
        proc = cli_accepts(svc["command"])
        assert proc.returncode == 0, (svc["command"], proc.stderr)
    assert "${TRACKLINE_WORKER_TOKEN:?" in worker["environment"]["TRACKLINE_WORKER_TOKEN"]
    assert "${TRACKLINE_DASHBOARD_TOKEN:?" in dash["environment"]["TRACKLINE_DASHBOARD_TOKEN"]


def test_the_default_command_is_one_the_cli_takes() -> None:
    [cmd] = [json.loads(a) for i, a in stage("runtime") if i == "CMD"]
    assert cmd[:2] == ["serve", "worker"]
    proc = cli_accepts(cmd)
    assert proc.returncode == 0, proc.stderr
    assert cli_accepts(["serve", "worker", "--no-such-flag"]).returncode == 2  # the check bites


@pytest.mark.slow
def test_the_image_install_steps_work_in_a_clean_virtualenv(tmp_path: Path) -> None:
    """What the build stage does: copy pyproject.toml, README.md and src/, then
    `python -m venv` and `pip install ".[EXTRAS]"` (here the `web` extra: the worker; without
    compiling bytecode, which only costs time here)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    proc = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--no-cache-dir", "--no-compile", "--quiet",
         ".[web]"],
        cwd=src, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    exe = str(venv / "bin" / "trackline")
    home = {"TRACKLINE_HOME": str(tmp_path / "home"), "PATH": str(venv / "bin")}
    helped = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60, env=home)
    assert helped.returncode == 0 and "serve" in helped.stdout, helped.stderr
    listed = subprocess.run(
        [exe, "contracts", "list"], capture_output=True, text=True, timeout=60, env=home
    )  # the built-in contracts travel in the wheel
    assert listed.returncode == 0 and "listens" in listed.stdout, listed.stderr
    app = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import trackline.web.push"],
        capture_output=True, text=True, timeout=60, env=home,
    )  # fmt: skip
    assert app.returncode == 0, app.stderr  # the worker's app imports with the extra
