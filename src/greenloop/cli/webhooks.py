"""Real-time commands: `webhooks register / list / delete / process / inbox / retry`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from greenloop.cli.support import (
    ConfigOption,
    JsonOption,
    VerboseOption,
    print_json,
    settings_from,
    translate_errors,
)

if TYPE_CHECKING:
    from greenloop.services.webhooks import Subscription

__all__ = ["register", "webhooks_app"]

webhooks_app = typer.Typer(
    help="X-Series webhook subscriptions and the inbox of received deliveries.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(webhooks_app, name="webhooks")


def _print_hooks(hooks: list[Subscription], as_json: bool) -> None:
    if as_json:
        print_json({"webhooks": [h.as_json() for h in hooks]})
        return
    if not hooks:
        typer.echo("no webhook subscriptions")
    for hook in hooks:
        state = "active" if hook.active else "inactive"
        typer.echo(f"{hook.status:<11} {hook.id}  {hook.type:<16} {state:<8} {hook.url}")


@webhooks_app.command("register")
@translate_errors
def register_command(
    url: Annotated[str, typer.Option("--url", help="Public URL of /webhooks/lightspeed.")],
    types: Annotated[
        list[str] | None,
        typer.Option("--type", help="Subscribe to this type (repeatable; default webhooks.types)."),
    ] = None,
    rotate_token: Annotated[
        bool,
        typer.Option("--rotate-token", help="Replace the stored URL token and re-subscribe."),
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Subscribe a URL to sale.update and customer.update; re-running changes nothing.

    The type and the URL token are added to the URL's query, so each delivery says what it is and proves where it came from. Without webhooks.url_token or webhooks.secret, a random token is made and stored in the database for `serve` (never printed).

    Example: greenloop webhooks register --url https://greenloop.example.com/webhooks/lightspeed
    """
    from greenloop.services import webhooks as webhook_service

    settings = settings_from(config, verbose)
    done = webhook_service.register(settings, url, types=types, rotate_token=rotate_token)
    if as_json:
        print_json(done.as_json())
        return
    _print_hooks([*done.webhooks, *done.replaced], as_json=False)
    if note := _TOKEN_NOTES.get(done.url_token):
        typer.echo(note)


_TOKEN_NOTES = {
    "created": "made a URL token for these subscriptions and stored it in the database, "
    "where `serve` reads it (it is not printed; --rotate-token replaces it)",
    "rotated": "replaced the stored URL token; deliveries with the old one are refused from now on",
    "signed": "subscribed as the add-on: deliveries are signed with the client secret "
    "(X-Signature), which `serve` requires; no URL token",
}


@webhooks_app.command("list")
@translate_errors
def list_command(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List the retailer's webhook subscriptions (URL tokens masked).

    Example: greenloop webhooks list --json
    """
    from greenloop.services import webhooks as webhook_service

    _print_hooks(webhook_service.list_webhooks(settings_from(config)), as_json)


@webhooks_app.command("delete")
@translate_errors
def delete_command(
    webhook_id: Annotated[str, typer.Argument(help="Subscription id (see `webhooks list`).")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete one webhook subscription by id.

    Example: greenloop webhooks delete 0af7b240-ab83-11e7-eddc-51c4f5d2e1a8
    """
    from greenloop.services import webhooks as webhook_service

    _print_hooks([webhook_service.delete_webhook(settings_from(config), webhook_id)], as_json)


@webhooks_app.command("process")
@translate_errors
def process_command(
    config: ConfigOption = None, as_json: JsonOption = False, verbose: VerboseOption = False
) -> None:
    """Process every due delivery in the inbox once, then exit (`serve` does this live).

    Each sale or customer is re-read from the API, stored if newer, and its person recomputed.

    Example: greenloop webhooks process --json
    """
    from greenloop.runtime.worker import process_inbox

    report = process_inbox(settings_from(config, verbose))
    if as_json:
        print_json(report.as_json())
        return
    typer.echo(
        f"claimed {report.claimed}: {report.applied} applied, {report.unchanged} unchanged, "
        f"{report.gone} gone, {report.retried} to retry, {report.parked} parked; "
        f"{report.persons} persons recomputed, {report.tier_changes} tier changes"
    )
    for error in report.errors:
        typer.echo(f"  error: {error}", err=True)


@webhooks_app.command("inbox")
@translate_errors
def inbox_command(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show the inbox: deliveries per status, the oldest waiting, and parked ones.

    Example: greenloop webhooks inbox
    """
    from greenloop.services import webhooks as webhook_service

    status = webhook_service.inbox_status(settings_from(config))
    if as_json:
        print_json(status)
        return
    counts = ", ".join(f"{k} {v}" for k, v in sorted(status["by_status"].items())) or "empty"
    typer.echo(f"inbox: {counts}; {status['duplicates']} duplicate deliveries ignored")
    age = status["oldest_pending_seconds"]
    typer.echo(f"oldest unprocessed: {'none' if age is None else f'{age:.0f} s'}")
    for row in status["parked_rows"]:
        typer.echo(
            f"  parked #{row['id']} {row['type']} {row['object_id']} "
            f"after {row['attempts']} attempts: {row['last_error']}"
        )


@webhooks_app.command("retry")
@translate_errors
def retry_command(
    ids: Annotated[
        list[int] | None, typer.Argument(help="Parked delivery ids (default: all parked).")
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send parked deliveries back to the queue, e.g. after fixing the token.

    Example: greenloop webhooks retry 41 42
    """
    from greenloop.services import webhooks as webhook_service

    count = webhook_service.requeue_parked(settings_from(config), ids or None)
    if as_json:
        print_json({"requeued": count})
        return
    typer.echo(f"requeued {count} parked deliveries")
