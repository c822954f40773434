"""`trackline demo`: the whole batch flow for every dataset, then where to look next."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from trackline.cli.common import out, print_json, state


def demo(
    ctx: typer.Context,
    count: Annotated[int, typer.Option("--count", "-n", help="Records per dataset.")] = 5000,
    invalid_share: Annotated[
        float, typer.Option("--invalid-share", help="Share of invalid records.")
    ] = 0.05,
    seed: Annotated[int, typer.Option("--seed", help="Generator seed.")] = 7,
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Generate data for every dataset and run it through the whole batch flow."""
    st = state(ctx)
    settings = st.settings()
    start = time.perf_counter()
    from trackline.demo.pipeline import run_demo

    result = run_demo(
        settings, count=count, invalid_share=invalid_share, seed=seed, reporter=st.reporter()
    )
    elapsed = time.perf_counter() - start
    if json_:
        print_json(
            {
                "seconds": round(elapsed, 2),
                "runs": [r.summary() for r in result.runs],
                "rerun": result.rerun.summary(),
                "api": [r.as_dict() for r in result.api],
                "stream": result.stream,
                "models": result.models,
                "session": result.session.as_dict() if result.session else None,
            }
        )
        return
    from rich.table import Table

    table = Table(
        "dataset",
        "run",
        "input",
        "valid",
        "rejected",
        "dup",
        "top rejection",
        title=f"trackline demo: {len(result.runs)} datasets in {elapsed:.1f}s",
    )
    for r in result.runs:
        c = r.manifest.counts
        top = next(iter(c.rejected_by_reason.items()), ("", 0))
        table.add_row(
            r.manifest.dataset,
            r.manifest.run_id,
            str(c.input),
            str(c.valid),
            str(c.rejected),
            str(c.duplicates),
            f"{top[0]} ({top[1]})" if top[0] else "",
        )
    out.print(table)
    rr = result.rerun
    out.print(f"re-ingesting listening_events: {rr.message}", markup=False)
    for a in result.api:
        out.print(
            f"fake API {a.provider} ({a.user_id}): {a.status}, fetched {sum(a.fetched.values())}, "
            f"added {sum(a.added.values())}",
            markup=False,
        )
    st_ = result.stream
    if st_:
        out.print(
            f"stream: published {st_['published']} events, loaded {st_['valid']} valid, "
            f"{st_['rejected']} rejected, {st_['duplicates']} duplicates "
            f"(p99 latency {st_['latency_ms']['p99']} ms)",
            markup=False,
        )
    md = result.models
    if "unavailable" in md:
        out.print(f"models: not built ({md['unavailable']})", markup=False)
    elif md:
        out.print(
            f"models: {md['models']['ok']} built, {md['tests']['passed']} data tests passed, "
            f"{md['models']['failed'] + md['tests']['failed']} failed ({md['seconds']} s)",
            markup=False,
        )
    if result.session is not None:
        sr = result.session
        out.print(f"session {sr.session_id} ({sr.result}): {sr.message}", markup=False)
    first = result.runs[0]
    home = settings.home
    out.print("\n[bold]where to look[/]")
    out.print(f"  inputs     {result.inputs_dir}", markup=False)
    out.print(
        f"  lake       {settings.lake}  (raw/, curated/, rejected/, reports/, manifests/)",
        markup=False,
    )
    out.print(f"  warehouse  {settings.warehouse}", markup=False)
    out.print("\n[bold]next[/]")
    h = _command() + (f" --home {home}" if str(home) != ".trackline" else "")
    for cmd in (
        f"{h} runs",
        f"{h} report {first.manifest.run_id}",
        f"{h} runs show {first.manifest.run_id}",
        f'{h} query "SELECT genre, count(*) AS n FROM listening_events GROUP BY 1 ORDER BY 2 DESC"',
        f'{h} query "SELECT dataset, reasons, detail, record FROM meta.rejected LIMIT 5"',
        f"{h} tail events --from-beginning --max 3 --json",
        f"{h} analytics group " + " ".join(f"--user {u}" for u in result.listeners),
        f"{h} recommend --user {result.listeners[0] if result.listeners else 'USER'} --n 5",
        f'{h} query "SELECT * FROM marts.user_daily_listening LIMIT 5"',
        f"{h} serve dashboard   # then open http://127.0.0.1:8050/",
    ):
        out.print(f"  {cmd}", markup=False)


def _command() -> str:
    """How the user can type this CLI: `trackline` when it is on PATH, else its path."""
    exe = Path(sys.argv[0])
    found = shutil.which("trackline")
    if exe.name != "trackline" or (found and Path(found).resolve() == exe.resolve()):
        return "trackline"
    try:
        return str(exe.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(exe)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
