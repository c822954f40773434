"""Open the state store for one command and close it after (shared by users/sessions/groups)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

import typer

from trackline.cli.common import state

if TYPE_CHECKING:
    from trackline.config import Settings
    from trackline.state import StateStore


@contextmanager
def store_for(ctx: typer.Context) -> Iterator[tuple[Settings, StateStore]]:
    from trackline.state import open_state

    settings = state(ctx).settings()
    store = open_state(settings)
    try:
        yield settings, store
    finally:
        store.close()


def when(value: datetime | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"
