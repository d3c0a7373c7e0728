"""`greenloop connect`: connect as a Lightspeed add-on (OAuth 2.0), or show the connection."""

from __future__ import annotations

from typing import Annotated

import typer

from greenloop.cli.support import (
    ConfigOption,
    JsonOption,
    VerboseOption,
    print_json,
    settings_from,
    translate_errors,
)

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("connect")(connect_command)


@translate_errors
def connect_command(
    status: Annotated[
        bool, typer.Option("--status", help="Show the connection (never the tokens).")
    ] = False,
    code: Annotated[
        str, typer.Option("--code", help="Finish without serve: the code Lightspeed sent back.")
    ] = "",
    state: Annotated[str, typer.Option("--state", help="The state Lightspeed sent back.")] = "",
    domain_prefix: Annotated[
        str, typer.Option("--domain-prefix", help="The domain_prefix Lightspeed sent back.")
    ] = "",
    config: ConfigOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Print the link where the store owner approves GreenLoop as an add-on.

    `serve` receives the answer at {jobs.public_url}/oauth/callback. Without serve, pass the code, state and domain_prefix from the address Lightspeed sends the browser to.

    Example: greenloop connect, then greenloop connect --status
    """
    from greenloop.services import connect as service

    settings = settings_from(config, verbose)
    if status or code or state:
        if code or state:
            result = service.finish_connect(
                settings, code=code, state=state, domain_prefix=domain_prefix
            )
        else:
            result = service.connection_status(settings)
        if as_json:
            print_json(result.as_json())
        else:
            typer.echo(result.as_text())
        return
    start = service.start_connect(settings)
    if as_json:
        print_json(start.as_json())
        return
    typer.echo("Open this link as the store owner and approve GreenLoop (valid 10 minutes):")
    typer.echo(start.url)
    typer.echo(f"Lightspeed then returns to {start.redirect_uri} (served by `greenloop serve`).")
