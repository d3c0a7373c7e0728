"""`greenloop dashboard hash-password`: the value for ``dashboard.admin_password_hash``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from greenloop.cli.support import JsonOption, print_json, translate_errors
from greenloop.errors import InputFileError

__all__ = ["dashboard_app"]

dashboard_app = typer.Typer(help="The web dashboard served by `greenloop serve`.")


@dashboard_app.command("hash-password")
@translate_errors
def hash_password_command(
    stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the password from the first line of stdin.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Hash the admin password (scrypt, salted) for dashboard.admin_password_hash.

    The password is asked for twice without echo (never as an argument, which would
    land in the shell history). Put the printed line in the dashboard section of
    greenloop.toml, or export GREENLOOP_DASHBOARD__ADMIN_PASSWORD_HASH.
    Example: greenloop dashboard hash-password
    """
    from greenloop.web.dashboard.auth import hash_password

    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise InputFileError("the password is empty")
    hashed = hash_password(password)
    if as_json:
        print_json({"admin_password_hash": hashed})
        return
    typer.echo(f'admin_password_hash = "{hashed}"')
