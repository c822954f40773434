"""`trackline config show`: every setting in effect, where it came from, secrets masked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from trackline.cli.common import print_json, state

if TYPE_CHECKING:
    from trackline.config import Origins, Settings

group = typer.Typer(help="Configuration: the settings in effect and where each came from.")

MASK = "***"
#: Locations derived from the settings (the home unless set), shown beside them.
RESOLVED = ("lake", "warehouse", "state", "serving", "bus")


@group.command("show")
def show(
    ctx: typer.Context,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Print every setting, its source (default, file, env, flag) and the resolved locations.

    Secrets (client secrets, the secret key, the worker token, passwords in URIs) are masked.
    """
    from trackline.config import Settings

    st = state(ctx)
    settings, origins = Settings.load_explained(home=st.home, config=st.config)
    doc = describe(settings, origins)
    if json_:
        print_json(doc)
        return
    file = doc["config_file"]
    if file["path"]:
        typer.echo(f"config file: {file['path']} (found by {file['found_by']})")
    else:
        typer.echo("config file: none (--config, TRACKLINE_CONFIG, <home>/ or ./trackline.toml)")
    rows = [(name, _text(s["value"]), _source(s)) for name, s in doc["settings"].items()]
    rows += [(name, _text(value), "resolved") for name, value in doc["resolved"].items()]
    width = max(len(r[0]) for r in rows)
    value_width = min(60, max(len(r[1]) for r in rows))
    for name, value, source in rows:
        typer.echo(f"{name:<{width}}  {value:<{value_width}}  {source}")


def describe(settings: Settings, origins: Origins) -> dict[str, Any]:
    """The `config show --json` document: no secret in it, whatever the settings hold."""
    values: dict[str, Any] = {}
    for name in type(settings).model_fields:
        source, where = origins.of(name)
        values[name] = {"value": _shown(getattr(settings, name)), "source": source, "from": where}
    file = origins.file
    return {
        "config_file": {
            "path": str(file.path) if file.path else None,
            "found_by": file.found_by,
        },
        "settings": values,
        "resolved": {name: _shown(_resolved(settings, name)) for name in RESOLVED},
    }


def _resolved(settings: Any, name: str) -> Any:
    """Where each part lives (a BigQuery warehouse is its URI, not the DuckDB path)."""
    if name == "warehouse" and settings.warehouse_kind == "bigquery":
        return settings.warehouse_uri
    return getattr(settings, name)


def _shown(value: Any) -> Any:
    from pydantic import SecretStr

    from trackline.core.http.redact import redact, redact_url

    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, SecretStr):
        return MASK
    text = str(value)
    # URIs: user:password and secret query parameters; anything else: known secret values.
    return redact_url(text) if "://" in text else redact(text)


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _source(entry: dict[str, Any]) -> str:
    return f"{entry['source']} {entry['from']}" if entry["from"] else str(entry["source"])


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="config")
