"""docs/cli.md and the real command tree cannot drift apart.

The doc has one `### \\`trackline CMD SUB\\`` section per command and group; each section names
every flag of its command (long and short forms) and no other, and a command with `--json`
documents its shape on a line starting `JSON` (`JSON:`, `JSON (...)` or `JSON Lines:`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer

from trackline.cli.main import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
HEADING = re.compile(r"^### `trackline(?: ([a-z][a-z -]*))?`\s*$", re.MULTILINE)
# A flag in prose or a usage line: not part of a word (read-only, 2026-12-07) or of a path.
FLAG = re.compile(r"(?<![\w/.-])(--?[a-zA-Z][\w-]*)")
ALWAYS = {"--help"}  # every command has it; the doc says so once


def tree() -> dict[str, Any]:
    """Every command and group by its path ("" for the root): the click command."""
    found: dict[str, Any] = {}

    def walk(cmd: Any, path: str) -> None:
        found[path] = cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}".strip())

    walk(typer.main.get_command(app), "")
    return found


def flags(cmd: Any) -> set[str]:
    return {
        opt
        for p in cmd.params
        if p.param_type_name == "option"
        for opt in (*p.opts, *p.secondary_opts)
    }


def sections() -> dict[str, str]:
    """The doc's command sections by command path: the text up to the next heading."""
    text = DOC.read_text(encoding="utf-8")
    marks = list(HEADING.finditer(text))
    found: dict[str, str] = {}
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        path = (m.group(1) or "").strip()
        assert path not in found, f"docs/cli.md: two sections for `trackline {path}`"
        found[path] = text[m.end() : end]
    return found


COMMANDS = tree()
SECTIONS = sections()


def test_every_command_has_a_section_and_every_section_a_command() -> None:
    missing = sorted(set(COMMANDS) - set(SECTIONS))
    unknown = sorted(set(SECTIONS) - set(COMMANDS))
    assert not missing, f"commands missing from docs/cli.md: {missing}"
    assert not unknown, f"docs/cli.md documents commands that do not exist: {unknown}"


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=lambda p: p or "(root)")
def test_each_section_names_exactly_its_commands_flags(path: str) -> None:
    real = flags(COMMANDS[path])
    named = set(FLAG.findall(SECTIONS.get(path, ""))) - ALWAYS
    assert not real - named, f"`trackline {path}`: flags missing from docs: {real - named}"
    assert not named - real, f"`trackline {path}`: docs name flags it lacks: {named - real}"


@pytest.mark.parametrize(
    "path", sorted(p for p, c in COMMANDS.items() if "--json" in flags(c)), ids=str
)
def test_each_json_command_documents_its_shape(path: str) -> None:
    lines = SECTIONS.get(path, "").splitlines()
    assert any(ln.startswith("JSON") for ln in lines), f"`trackline {path}`: no JSON shape"


def test_every_flag_anywhere_in_the_doc_exists() -> None:
    every = set().union(*(flags(c) for c in COMMANDS.values())) | ALWAYS
    named = set(FLAG.findall(DOC.read_text(encoding="utf-8")))
    assert not named - every, f"docs/cli.md names flags no command has: {named - every}"


def test_the_doc_states_the_exit_codes() -> None:
    text = DOC.read_text(encoding="utf-8")
    for code in ("`0`", "`1`", "`2`"):
        assert f"| {code} |" in text, f"exit code {code} missing from docs/cli.md"
