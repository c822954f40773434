"""The API connector command groups: auth, fetch, spool, import, fake-api (one registration
point so the CLI's entry module stays a list of groups)."""

from __future__ import annotations

import typer

from trackline.cli import auth, fakeapi, fetch, imports


def register(app: typer.Typer) -> None:
    for module in (auth, fetch, imports, fakeapi):
        module.register(app)
