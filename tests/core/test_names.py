"""Names that become paths: one check, applied wherever a name is joined into a path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from trackline.bus.base import Outgoing
from trackline.bus.log import LogBus
from trackline.cdc import Source, dead_letter_path
from trackline.config import Settings
from trackline.contracts.loader import ContractRegistry
from trackline.core.names import InvalidPathNameError, check_name, is_safe_name
from trackline.errors import UsageError
from trackline.sources.spool import Batch

BAD = [
    "../../x",
    "..",
    "a/b",
    "a\\b",
    "",
    ".hidden",
    "-flag",
    "x..y",
    "a b",
    "a\x00b",
    "é",
    "x" * 129,
]
GOOD = ["fakestore", "shop2", "cdc.carts", "cdc.carts.dlq", "spotify_plays", "a-b", "9", "x" * 128]


@pytest.mark.parametrize("name", BAD)
def test_unsafe_names_are_refused_as_usage_errors(name: str) -> None:
    assert not is_safe_name(name)
    with pytest.raises(UsageError, match="invalid topic"):
        check_name(name, "topic")


@pytest.mark.parametrize("name", GOOD)
def test_ordinary_names_pass_unchanged(name: str) -> None:
    assert check_name(name) == name


def test_cdc_source_name_cannot_leave_the_home(tmp_path: Path) -> None:
    with pytest.raises(InvalidPathNameError):
        Source(name="../../x")
    assert dead_letter_path(tmp_path, Source(name="shop2")).parent == tmp_path / "cdc"


def test_spool_provider_and_dataset_are_checked(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "home")
    with pytest.raises(InvalidPathNameError):
        Batch.create(settings, "../spotify", "alice")
    batch = Batch.create(settings, "spotify", "alice")
    with pytest.raises(InvalidPathNameError):
        batch.write("../../escaped", [{"a": 1}])
    batch.write("plays", [{"a": 1}])
    batch.seal()
    assert list(batch.files()) == ["plays"]
    assert not list(tmp_path.rglob("escaped*"))


def test_dataset_lookup_names_the_unsafe_name() -> None:
    with pytest.raises(InvalidPathNameError, match="invalid dataset"):
        ContractRegistry().get("../listening")


def test_log_bus_topics_and_groups_are_checked(tmp_path: Path) -> None:
    bus = LogBus.from_uri("log://" + str(tmp_path / "bus.db"), Settings.load(home=tmp_path))
    try:
        with pytest.raises(InvalidPathNameError, match="topic"):
            bus.publish_batch("../t", [Outgoing(b"x", {}, None)])
        with pytest.raises(InvalidPathNameError, match="consumer group"):
            bus.consume("cdc.carts", "../g", timeout=0)
        bus.publish_batch("cdc.carts", [Outgoing(b"x", {}, None)])
        assert [m.data for m in bus.consume("cdc.carts", "g1", timeout=0)] == [b"x"]
    finally:
        bus.close()


def test_cdc_cli_name_with_dots_exits_2_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLINE_")}
    env["TRACKLINE_HOME"] = str(tmp_path / "home")
    env["TRACKLINE_FAKESTORE_API_URL"] = "http://127.0.0.1:9"  # never the real API
    proc = subprocess.run(
        [sys.executable, "-m", "trackline", "cdc", "carts", "--name", "../../x", "--once"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "invalid CDC source name" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "home").exists()  # refused before anything was created
    assert not list(tmp_path.rglob("x.carts*"))
