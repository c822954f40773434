"""One fixture over every state backend reachable here: SQLite always, PostgreSQL via require().

`backend.open()` opens a new store (its own connection) on the same data, so tests can race
two workers or reopen to check migrations. PostgreSQL runs get a schema of their own, dropped
afterwards, so parallel or repeated runs never see each other's rows.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from tests.services import require
from trackline.config import Settings
from trackline.state import StateStore, open_state

BACKENDS = ["sqlite", "postgres"]


@dataclass
class Backend:
    name: str
    settings: Settings
    opened: list[StateStore] = field(default_factory=list)

    def open(self, **overrides: Any) -> StateStore:
        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        store = open_state(settings)
        self.opened.append(store)
        return store

    def raw(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows straight from the tables, bypassing the store (what an attacker with the file
        or a database dump would see)."""
        if self.name == "sqlite":
            path = self.settings.state.removeprefix("sqlite:///")
            con = sqlite3.connect(path)
            try:
                return list(con.execute(sql).fetchall())
            finally:
                con.close()
        import psycopg

        conninfo, _, schema = self.settings.state.partition("?schema=")
        with psycopg.connect(conninfo, autocommit=True) as con:
            con.execute(f'SET search_path TO "{schema}"')
            return [tuple(r) for r in con.execute(sql).fetchall()]


def make_settings(home: Path, uri: str | None) -> Settings:
    return Settings.load(
        home=home, state_uri=uri, secret_key=SecretStr(Fernet.generate_key().decode())
    )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        uri = "sqlite:///" + str(tmp_path / "state.db")
    else:
        uri = require("postgres") + f"?schema=t_{uuid.uuid4().hex[:12]}"
    b = Backend(request.param, make_settings(tmp_path / "home", uri))
    yield b
    for store in b.opened:
        store.close()
    if request.param == "postgres":
        import psycopg

        conninfo, _, schema = uri.partition("?schema=")
        with psycopg.connect(conninfo, autocommit=True) as con:
            con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def store(backend: Backend) -> StateStore:
    return backend.open()
