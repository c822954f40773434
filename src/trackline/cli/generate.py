"""`trackline generate DATASET --count N --invalid-share P --seed S --out FILE`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trackline.cli.common import out, print_json, state


def generate(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="A built-in dataset (see `contracts list`).")],
    out_path: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="File to write; format from extension (.ndjson .json .csv .parquet, + .gz).",
        ),
    ],
    count: Annotated[int, typer.Option("--count", "-n", help="Records to write.")] = 1000,
    invalid_share: Annotated[
        float,
        typer.Option("--invalid-share", help="Share of invalid records (0..1), of every kind."),
    ] = 0.0,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same output.")] = 0,
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Write realistic records, with invalid ones of every kind the contract catches."""
    from trackline.contracts.loader import ContractRegistry
    from trackline.generate import generator

    contracts = ContractRegistry(state(ctx).settings().contracts_dir)
    result = generator.write(
        dataset, count, out_path, invalid_share=invalid_share, seed=seed, contracts=contracts
    )
    summary = {
        "path": str(result.path),
        "count": result.count,
        "valid": result.valid,
        "duplicates": result.duplicates,
        "invalid_by_kind": result.invalid_by_kind,
        "format": result.format,
    }
    if json_:
        print_json(summary)
        return
    invalid = sum(result.invalid_by_kind.values())
    out.print(
        f"wrote {result.count} {dataset} records to {result.path} ({result.valid} valid, "
        f"{invalid} invalid, {result.duplicates} duplicates)",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
