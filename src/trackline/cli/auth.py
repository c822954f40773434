"""`trackline auth spotify|youtube`: Authorization Code with PKCE on a loopback redirect."""

from __future__ import annotations

from typing import Annotated

import typer

from trackline.cli.common import err, out, print_json, state
from trackline.errors import UsageError

#: The providers `auth` connects (trackline.auth.oauth.PROVIDERS; a test keeps them equal),
#: named here so the help does not import the OAuth client.
PROVIDERS = ("spotify", "youtube")


def auth(
    ctx: typer.Context,
    provider: Annotated[str, typer.Argument(help=f"One of: {', '.join(PROVIDERS)}.")],
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            "-u",
            help="User id to store the token under (Spotify: default the account's id).",
        ),
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Loopback port (default: oauth_redirect_port).")
    ] = None,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Only print the URL to open.")
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait.")] = 300.0,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Connect a user's account: approve in the browser, the refresh token is stored encrypted."""
    from trackline.auth.oauth import authorize, oauth_app
    from trackline.core.http import HttpClient
    from trackline.state.connectors import open_connector_state

    settings = state(ctx).settings()
    if provider == "youtube" and not user:
        raise UsageError("pass --user ID for YouTube (the id to store the token under)")
    app = oauth_app(settings, provider)
    with HttpClient.from_settings(settings) as http:

        def show(url: str) -> None:
            err.print(f"open this URL to authorise trackline:\n{url}", markup=False, soft_wrap=True)

        tokens = authorize(
            http,
            app,
            port=settings.oauth_redirect_port if port is None else port,
            show_url=show,
            open_browser=not no_browser,
            timeout=timeout,
        )
        user_id = user
        if user_id is None:
            me = http.get_json(
                settings.spotify_api_url.rstrip("/") + "/me",
                auth=lambda: {"Authorization": f"Bearer {tokens.access_token}"},
            )
            user_id = str(me.get("id")) if isinstance(me, dict) and me.get("id") else None
            if not user_id:
                raise UsageError("could not read the Spotify account id; pass --user ID")
    if not tokens.refresh_token:
        raise UsageError(f"{provider} returned no refresh token; approve again with consent")
    store = open_connector_state(settings)
    try:
        store.add_user(user_id)
        store.set_refresh_token(user_id, provider, tokens.refresh_token)
    finally:
        store.close()
    if json_:
        print_json({"provider": provider, "user_id": user_id, "status": "connected"})
    else:
        out.print(f"{provider} connected for user {user_id}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("auth")(auth)
