"""`greenloop dashboard hash-password`: the value for ``dashboard.admin_password_hash``
(or ``staff_password_hash`` with ``--staff``)."""

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
    staff: Annotated[
        bool,
        typer.Option(
            "--staff",
            help="Print dashboard.staff_password_hash, the read-only staff login's, instead "
            "of the admin's.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Hash a dashboard password (scrypt, salted) for dashboard.admin_password_hash, or with --staff for dashboard.staff_password_hash.

    The password is asked for twice without echo (never as an argument, which would land in the shell history). Put the printed line in the dashboard section of greenloop.toml, or export GREENLOOP_DASHBOARD__ADMIN_PASSWORD_HASH (GREENLOOP_DASHBOARD__STAFF_PASSWORD_HASH for staff).

    The staff login is read-only: customer lookup and person pages, nothing else. Give it a password of its own; one that matches both hashes logs in as admin.

    Example: greenloop dashboard hash-password --staff
    """
    from greenloop.web.dashboard.auth import hash_password

    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise InputFileError("the password is empty")
    hashed = hash_password(password)
    key = "staff_password_hash" if staff else "admin_password_hash"
    if as_json:
        print_json({key: hashed})
        return
    typer.echo(f'{key} = "{hashed}"')
