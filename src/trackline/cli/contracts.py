"""`trackline contracts list|show NAME`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from trackline.cli.common import out, print_json, state

group = typer.Typer(help="Dataset contracts: list them, show one.", no_args_is_help=True)


@group.command("list")
def list_(
    ctx: typer.Context, json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
) -> None:
    """List every contract (built-in and from contracts_dir)."""
    from trackline.contracts.loader import ContractRegistry

    reg = ContractRegistry(state(ctx).settings().contracts_dir)
    rows: list[dict[str, Any]] = [
        {
            "name": c.name,
            "version": c.version,
            "fields": len(c.fields),
            "primary_key": c.primary_key,
            "partition_by": c.partition_by,
            "origin": c.origin,
            "description": c.description,
        }
        for c in reg.all()
    ]
    if json_:
        print_json(rows)
        return
    from rich.table import Table

    table = Table("name", "version", "fields", "primary key", "partition by", "origin")
    for r in rows:
        table.add_row(
            str(r["name"]),
            str(r["version"]),
            str(r["fields"]),
            ", ".join(r["primary_key"]),
            ", ".join(r["partition_by"]),
            str(r["origin"]),
        )
    out.print(table)


@group.command("show")
def show(
    ctx: typer.Context,
    name: str,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one contract as YAML (or JSON)."""
    from trackline.contracts.loader import ContractRegistry

    c = ContractRegistry(state(ctx).settings().contracts_dir).get(name)
    doc = c.model_dump(mode="json", exclude_defaults=False)
    doc["fields"] = {
        k: {kk: vv for kk, vv in v.items() if vv not in (None, False, "")}
        for k, v in doc["fields"].items()
    }
    if json_:
        print_json({**doc, "origin": c.origin, "digest": c.digest})
        return
    out.print(f"# {c.origin} (digest {c.digest})", markup=False)
    import yaml

    out.print(yaml.safe_dump(doc, sort_keys=False, width=100), markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="contracts")
