"""One fixture over every state backend reachable here: SQLite always, PostgreSQL and the
Firestore emulator via require().

`backend.open()` opens a new store (its own connection) on the same data, so tests can race
two workers or reopen to check migrations. PostgreSQL runs get a schema of their own, dropped
afterwards; Firestore runs a project id of their own, cleared afterwards; so parallel or
repeated runs never see each other's rows. The `Backend` methods below read and change the
stored data behind the store's back (what someone with the database would see or do).
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
from tests.state import firestore_raw
from trackline.config import Settings
from trackline.state import StateStore, open_state

BACKENDS = ["sqlite", "postgres", "firestore"]


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
        assert self.name != "firestore", "no SQL on Firestore: use the methods below"
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

    def write(self, sql: str, params: tuple[object, ...] = ()) -> None:
        """Change rows behind the store's back, as someone with write access to the database."""
        assert self.name != "firestore", "no SQL on Firestore: use the methods below"
        if self.name == "sqlite":
            con = sqlite3.connect(self.settings.state.removeprefix("sqlite:///"))
            with con:
                con.execute(sql, params)
            con.close()
            return
        import psycopg

        conninfo, _, schema = self.settings.state.partition("?schema=")
        with psycopg.connect(conninfo, autocommit=True) as con:
            con.execute(f'SET search_path TO "{schema}"')
            con.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]

    # The stored data, as the same facts on every backend ---------------------------------
    def tokens(self) -> list[tuple[str, str, str | None]]:
        """Every stored token entry: (user_id, provider, ciphertext), sorted."""
        if self.name == "firestore":
            return firestore_raw.tokens(self.settings.state)
        rows = self.raw("SELECT user_id, provider, ciphertext FROM tokens")
        return sorted((str(u), str(p), c) for u, p, c in rows)

    def ciphertext(self, user_id: str, provider: str) -> str:
        found = [c for u, p, c in self.tokens() if (u, p) == (user_id, provider)]
        assert len(found) == 1 and found[0] is not None
        return found[0]

    def set_ciphertext(self, user_id: str, provider: str, ciphertext: str) -> None:
        if self.name == "firestore":
            firestore_raw.set_ciphertext(self.settings.state, user_id, provider, ciphertext)
            return
        self.write(
            "UPDATE tokens SET ciphertext = ? WHERE user_id = ? AND provider = ?",
            (ciphertext, user_id, provider),
        )

    def stored_sessions(self) -> int:
        """Sessions stored, members included (a refused session leaves nothing)."""
        if self.name == "firestore":
            return firestore_raw.count(self.settings.state, "sessions")
        return int(self.raw("SELECT count(*) FROM session_users")[0][0]) + int(
            self.raw("SELECT count(*) FROM sessions")[0][0]
        )

    def schema_versions(self) -> list[int]:
        """The schema versions recorded as applied."""
        if self.name == "firestore":
            return firestore_raw.schema_versions(self.settings.state)
        rows = self.raw("SELECT version FROM trackline_migrations ORDER BY version")
        return [int(r[0]) for r in rows]

    def record_schema_version(self, version: int) -> None:
        """Record a schema version as applied (a newer trackline wrote this store)."""
        if self.name == "firestore":
            firestore_raw.record_schema_version(self.settings.state, version)
            return
        self.write("INSERT INTO trackline_migrations VALUES (?, 'future', 'x')", (version,))


def make_settings(home: Path, uri: str | None) -> Settings:
    return Settings.load(
        home=home, state_uri=uri, secret_key=SecretStr(Fernet.generate_key().decode())
    )


@pytest.fixture(params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Backend]:
    if request.param == "sqlite":
        uri = "sqlite:///" + str(tmp_path / "state.db")
    elif request.param == "firestore":
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", require("firestore"))
        uri = f"firestore://t-{uuid.uuid4().hex[:12]}"
    else:
        uri = require("postgres") + f"?schema=t_{uuid.uuid4().hex[:12]}"
    b = Backend(request.param, make_settings(tmp_path / "home", uri))
    yield b
    for store in b.opened:
        store.close()
    if request.param == "firestore":
        firestore_raw.clear(uri)
    if request.param == "postgres":
        import psycopg

        conninfo, _, schema = uri.partition("?schema=")
        with psycopg.connect(conninfo, autocommit=True) as con:
            con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def store(backend: Backend) -> StateStore:
    return backend.open()
