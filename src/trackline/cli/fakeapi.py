"""`trackline fake-api [--port P] [--extended-quota]`: look-alike Spotify, YouTube and Fake Store
APIs (Spotify in its February 2026 Development Mode shapes unless `--extended-quota`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trackline.cli.common import err, state


def fake_api(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", "-p", help="Port on 127.0.0.1.")] = 8700,
    fail_rate: Annotated[float, typer.Option(help="Share of calls answered 500.")] = 0.0,
    rate_limit_rate: Annotated[float, typer.Option(help="Share answered 429.")] = 0.0,
    retry_after: Annotated[float, typer.Option(help="Retry-After seconds on 429s.")] = 1.0,
    malformed_rate: Annotated[float, typer.Option(help="Share answered with bad JSON.")] = 0.0,
    slow_ms: Annotated[float, typer.Option(help="Delay added to every call (ms).")] = 0.0,
    token_ttl: Annotated[float, typer.Option(help="Access token lifetime (s).")] = 3600.0,
    plays: Annotated[int, typer.Option(help="Recently played history per user.")] = 120,
    seed: Annotated[int, typer.Option(help="Data seed.")] = 7,
    extended_quota: Annotated[
        bool,
        typer.Option(
            "--extended-quota",
            help="Serve Spotify's Extended Quota shapes (/tracks, track, every field) instead of "
            "the February 2026 Development Mode ones.",
        ),
    ] = False,
    extras: Annotated[
        bool,
        typer.Option(
            "--extras/--no-extras",
            help="Playlists and recent plays also hold a podcast episode, a local file and a "
            "track with a null name.",
        ),
    ] = True,
) -> None:
    """Serve the fake APIs until Ctrl-C; prints the settings that point trackline at them."""
    from trackline.fakeapi import FakeAPI, FaultRates, run_forever

    settings = state(ctx).settings()
    rates = FaultRates(fail_rate, rate_limit_rate, retry_after, malformed_rate, slow_ms, seed)
    carts: Path = settings.home / "fakeapi" / "carts.json"
    fake = FakeAPI.create(
        seed=seed,
        rates=rates,
        token_ttl=token_ttl,
        plays_per_user=plays,
        carts_file=carts,
        extended_quota=extended_quota,
        extras=extras,
    )
    fake.base_url = f"http://127.0.0.1:{port}"
    mode = "Extended Quota" if extended_quota else "Development Mode (2026)"
    err.print(f"fake APIs on {fake.base_url} (Ctrl-C stops); Spotify shapes: {mode}", markup=False)
    err.print("use these settings:", markup=False)
    for k, v in fake.env().items():
        err.print(f"  export {k}={v}", markup=False)
    err.print(
        f'  tokens: curl -X POST {fake.base_url}/_fake/tokens -d \'{{"user": "alice"}}\'',
        markup=False,
    )
    run_forever(fake, port)


def register(app: typer.Typer) -> None:
    app.command("fake-api")(fake_api)
