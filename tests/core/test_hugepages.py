"""Batch runs opt their process out of transparent huge pages unless told to leave them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from trackline.config import Settings
from trackline.errors import ConfigError

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="transparent huge pages are a Linux setting"
)

# A child process: the flag is per process and inherited, so each case starts from a reset.
CHILD = """
import sys
from trackline.core import hugepages
from trackline.config import Settings
from trackline.engines.local import LocalEngine
hugepages._prctl(hugepages.PR_SET_THP_DISABLE, 0)
before = hugepages.disabled()
LocalEngine(Settings.load(home=sys.argv[1]))
print(before, hugepages.disabled())
"""


def _child(tmp_path: Path, mode: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TRACKLINE_HUGEPAGES"}
    if mode is not None:
        env["TRACKLINE_HUGEPAGES"] = mode
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "home")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_an_engine_opts_its_process_out_by_default(tmp_path: Path) -> None:
    assert _child(tmp_path, None) == "False True"
    assert _child(tmp_path, "off") == "False True"


def test_system_leaves_the_process_as_it_was(tmp_path: Path) -> None:
    assert _child(tmp_path, "system") == "False False"


def test_an_unknown_mode_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKLINE_HUGEPAGES", "sometimes")
    with pytest.raises(ConfigError, match="hugepages"):
        Settings.load(home=tmp_path / "home")
