"""Tier-change event commands: `events list / send / retry`."""

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

__all__ = ["events_app", "register"]

events_app = typer.Typer(
    help="Outgoing tier-change events posted to events.url for the retailer's own app.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(events_app, name="events")


@events_app.command("list")
@translate_errors
def list_command(
    status: Annotated[
        str | None,
        typer.Option(help="Only events in this state: pending, failed, sending, sent, parked."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the newest tier-change events and how their delivery went.

    Example: greenloop events list --status parked
    """
    from greenloop.services import events as event_service

    settings = settings_from(config)
    rows = event_service.list_events(settings, status=status, limit=limit)
    if as_json:
        print_json({"counts": event_service.event_status(settings), "events": rows})
        return
    if not rows:
        typer.echo("no tier-change events")
    for row in rows:
        tail = f" ({row['last_error']})" if row["last_error"] else ""
        typer.echo(
            f"{row['status']:<8} {row['event_id']} {row['person_id']} "
            f"{row['from_tier'] or '-'} → {row['to_tier'] or '-'} "
            f"attempts {row['attempts']}{tail}"
        )


@events_app.command("send")
@translate_errors
def send_command(
    config: ConfigOption = None, as_json: JsonOption = False, verbose: VerboseOption = False
) -> None:
    """Deliver every event due now, once each (`serve` does this continuously).

    Example: greenloop events send --json
    """
    from greenloop.services import events as event_service

    report = event_service.send_events(settings_from(config, verbose))
    if as_json:
        print_json(report.as_json())
        return
    typer.echo(
        f"{report.claimed} due: {report.sent} sent, {report.failed} to retry, "
        f"{report.parked} parked"
    )


@events_app.command("retry")
@translate_errors
def retry_command(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Send parked events back to the queue with fresh attempts (after fixing the URL).

    Example: greenloop events retry
    """
    from greenloop.services import events as event_service

    count = event_service.retry_parked(settings_from(config))
    if as_json:
        print_json({"requeued": count})
        return
    typer.echo(f"requeued {count} parked events")
