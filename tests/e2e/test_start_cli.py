"""The command's front door: version, help, and a mistyped command, as a user meets them."""

from __future__ import annotations

from importlib.metadata import version

from tests.e2e.conftest import CLI

GROUPS = (
    "ingest", "report", "query", "generate", "demo", "auth", "fetch", "fake-api", "model",
    "recommend", "aggregate", "publish", "stream", "tail", "worker", "trigger", "contracts",
    "runs", "users", "sessions", "groups", "spool", "import", "analytics", "cdc", "serve",
)  # fmt: skip


def test_version_and_help(cli: CLI) -> None:
    r = cli("--version")
    assert (r.code, r.out) == (0, f"trackline {version('trackline')}\n")

    r = cli("--help")
    assert r.code == 0 and "Usage:" in r.out
    listed = {line.split()[1] for line in r.out.splitlines() if line.startswith("│ ")}
    assert set(GROUPS) <= listed

    r = cli("contracts")  # a group without a command shows its help
    assert r.code == 2 and "list" in r.out and "show" in r.out


def test_a_subcommand_help_and_an_unknown_command(cli: CLI) -> None:
    r = cli("fetch", "--help")
    assert r.code == 0
    assert "spotify, youtube, fakestore" in r.out

    r = cli("cdc", "carts", "--help")
    assert r.code == 0 and "cdc.carts" in r.out

    r = cli("nosuch")
    assert r.code == 2 and "nosuch" in r.err
