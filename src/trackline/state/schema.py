"""The relational schema, as numbered migrations shared by the SQLite and PostgreSQL stores.

A migration is applied once, in order, inside one transaction with its row in
`trackline_migrations`; opening a store runs the missing ones. A store whose recorded version is
above the newest migration here was written by a newer trackline and is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from trackline.state.errors import SchemaVersionError


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS_TABLE = "trackline_migrations"


def migrations(ts: str, js: str) -> list[Migration]:
    """The schema with the dialect's timestamp (`ts`) and JSON (`js`) column types."""
    return [
        Migration(
            1,
            "users, tokens, cursors, documents",
            (
                f"""CREATE TABLE users (
                    user_id TEXT PRIMARY KEY,
                    is_active BOOLEAN NOT NULL,
                    last_active {ts},
                    created_at {ts} NOT NULL)""",
                f"""CREATE TABLE tokens (
                    user_id TEXT NOT NULL,
                    provider TEXT NOT NULL,
                    ciphertext TEXT,
                    status TEXT NOT NULL,
                    reason TEXT,
                    updated_at {ts} NOT NULL,
                    PRIMARY KEY (user_id, provider))""",
                f"""CREATE TABLE cursors (
                    key TEXT PRIMARY KEY,
                    value TEXT NOT NULL,
                    updated_at {ts} NOT NULL)""",
                f"""CREATE TABLE docs (
                    collection TEXT NOT NULL,
                    key TEXT NOT NULL,
                    value {js} NOT NULL,
                    updated_at {ts} NOT NULL,
                    PRIMARY KEY (collection, key))""",
            ),
        ),
        Migration(
            2,
            "sessions with members, runs and a status timeline",
            (
                f"""CREATE TABLE sessions (
                    session_id TEXT PRIMARY KEY,
                    status TEXT NOT NULL,
                    created_at {ts} NOT NULL,
                    updated_at {ts} NOT NULL,
                    error TEXT,
                    worker_id TEXT,
                    lease_until {ts},
                    attempts INTEGER NOT NULL DEFAULT 0)""",
                "CREATE INDEX sessions_by_status ON sessions (status, created_at)",
                f"""CREATE TABLE session_users (
                    session_id TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    pos INTEGER NOT NULL,
                    outcome {js},
                    outcome_at {ts},
                    PRIMARY KEY (session_id, user_id))""",
                """CREATE TABLE session_runs (
                    session_id TEXT NOT NULL,
                    run_id TEXT NOT NULL,
                    pos INTEGER NOT NULL,
                    PRIMARY KEY (session_id, run_id))""",
                f"""CREATE TABLE session_events (
                    session_id TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    at {ts} NOT NULL,
                    status TEXT NOT NULL,
                    message TEXT,
                    worker_id TEXT,
                    PRIMARY KEY (session_id, seq))""",
            ),
        ),
    ]


def check_version(current: int, latest: int, where: str) -> None:
    if current > latest:
        raise SchemaVersionError(
            f"the state store {where} has schema version {current}, but this trackline knows "
            f"versions up to {latest}: it was written by a newer trackline. Upgrade trackline "
            "(pip install -U trackline) or point TRACKLINE_STATE_URI at another store"
        )
