"""Choosing a backend from the URI, and keeping secrets out of what is shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackline.config import Settings
from trackline.state import StateError, StateURIError, open_state, redact_uri
from trackline.state.postgres import parse_uri
from trackline.state.sqlite import SQLiteStore, path_from_uri


def test_default_is_sqlite_under_the_home(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "home")
    store = open_state(settings)
    assert isinstance(store, SQLiteStore) and store.scheme == "sqlite"
    assert store.path == (tmp_path / "home" / "state.db").absolute()
    store.close()


def test_unknown_scheme_lists_the_valid_ones(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path, state_uri="mongodb://u:pw123@h/db")
    with pytest.raises(StateURIError, match="firestore, postgres, postgresql, sqlite") as exc:
        open_state(settings)
    assert "pw123" not in str(exc.value)


def test_uri_parsing() -> None:
    assert path_from_uri("sqlite:///rel/state.db") == Path("rel/state.db")
    assert path_from_uri("sqlite:////abs/state.db") == Path("/abs/state.db")
    with pytest.raises(StateURIError):
        path_from_uri("sqlite://")
    conninfo, schema = parse_uri("postgresql://u@h:5432/db?schema=t_1&sslmode=disable")
    assert (conninfo, schema) == ("postgresql://u@h:5432/db?sslmode=disable", "t_1")
    assert parse_uri("postgres://u@h/db")[1] == "trackline"
    with pytest.raises(StateURIError, match="invalid schema"):
        parse_uri("postgresql://u@h/db?schema=x;drop")
    assert redact_uri("postgresql://u:s3cret@h:5/db") == "postgresql://u:***@h:5/db"
    assert redact_uri("postgresql://u@h/db") == "postgresql://u@h/db"


def test_unreachable_postgres_error_hides_the_password(tmp_path: Path) -> None:
    settings = Settings.load(
        home=tmp_path, state_uri="postgresql://postgres:hunter2@127.0.0.1:1/test"
    )
    with pytest.raises(StateError, match="cannot connect") as exc:
        open_state(settings)
    assert "hunter2" not in str(exc.value)
