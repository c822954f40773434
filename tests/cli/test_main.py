"""The CLI starts at once: its help and version load no engine, data library or server.

Each check runs in a fresh interpreter and reads its `sys.modules`, so a module-level import
of something heavy in any command module (or in what the root callback loads) fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib.metadata import version
from typing import Any

#: Packages a command may load only once it runs: not to import the app or print a help.
HEAVY = (
    "duckdb",
    "pyarrow",
    "pandas",
    "numpy",
    "httpx",
    "starlette",
    "uvicorn",
    "trackline.fakeapi",
    "trackline.engines",
)

PROBE = textwrap.dedent(
    """
    import contextlib, io, json, sys

    HEAVY = {heavy!r}

    def heavy():
        return sorted(
            m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in HEAVY)
        )

    def call(app, args):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            try:
                app(args=args, prog_name="trackline")
            except SystemExit as stop:
                return stop.code or 0, buf.getvalue()
        return 0, buf.getvalue()

    {body}
    """
)


def probe(body: str) -> Any:
    """Run `body` in a fresh interpreter (with `heavy` and `call` defined); its JSON output."""
    code = PROBE.format(heavy=HEAVY, body=textwrap.dedent(body))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_importing_the_app_and_every_help_load_nothing_heavy() -> None:
    found = probe(
        """
        import typer
        from trackline.cli.main import app

        report = {"(app imported)": heavy()}
        paths = [[]]
        def walk(cmd, prefix):
            for name, sub in getattr(cmd, "commands", {}).items():
                paths.append([*prefix, name])
                walk(sub, [*prefix, name])
        walk(typer.main.get_command(app), [])
        for path in paths:
            code, text = call(app, [*path, "--help"])
            report[" ".join(path) or "(root)"] = {"code": code, "usage": "Usage:" in text,
                                                  "heavy": heavy()}
        print(json.dumps(report))
        """
    )
    assert found.pop("(app imported)") == []
    # every command group and command was shown, and none of them loaded a heavy package
    assert len(found) > 40 and {"(root)", "ingest", "cdc carts", "serve worker"} <= set(found)
    assert {k: v for k, v in found.items() if v != {"code": 0, "usage": True, "heavy": []}} == {}


def test_version_prints_the_installed_version_without_loading_settings() -> None:
    found = probe(
        """
        from trackline.cli.main import app

        code, text = call(app, ["--version"])
        print(json.dumps({"code": code, "text": text, "heavy": heavy(),
                          "settings": "trackline.config" in sys.modules,
                          "pydantic": "pydantic" in sys.modules}))
        """
    )
    assert found["code"] == 0
    assert found["text"] == f"trackline {version('trackline')}\n"
    assert found["heavy"] == []
    assert not found["settings"] and not found["pydantic"]


def test_package_version_matches_the_installed_distribution() -> None:
    import trackline
    from trackline import __version__

    assert __version__ == trackline.__version__ == version("trackline")
