"""`trackline deploy terraform --out DIR [--check] [--json]`: Terraform from the contracts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trackline.cli.common import out, print_json, state

app = typer.Typer(help="Generate deployment files from the project's definitions.")


@app.command("terraform")
def terraform(
    ctx: typer.Context,
    out_dir: Annotated[
        Path,
        typer.Option("--out", help="Folder of the Terraform configuration (it gets contracts.tf)."),
    ],
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Write nothing; exit 1 when contracts.tf is missing or stale."
        ),
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Write contracts.tf: one BigQuery table per contract (columns, partitioning, clustering,
    ingestion_time, run_id), your contracts_dir's included; see docs/deploy.md."""
    from trackline.contracts.loader import ContractRegistry
    from trackline.deploy.terraform import GENERATED, is_stale, write

    settings = state(ctx).settings()
    contracts = ContractRegistry(settings.contracts_dir).all()
    names = sorted(c.name for c in contracts)
    path = out_dir / GENERATED
    if check:
        stale = is_stale(out_dir, contracts)
        if json_:
            print_json({"path": str(path), "tables": names, "stale": stale})
        elif stale:
            out.print(
                f"{path} is stale: run `trackline deploy terraform --out {out_dir}`", markup=False
            )
        else:
            out.print(f"{path} is up to date ({len(names)} tables)", markup=False)
        if stale:
            raise typer.Exit(1)
        return
    path, changed = write(out_dir, contracts)
    if json_:
        print_json({"path": str(path), "tables": names, "changed": changed})
    else:
        verb = "wrote" if changed else "unchanged:"
        out.print(f"{verb} {path} ({len(names)} tables: {', '.join(names)})", markup=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="deploy")
