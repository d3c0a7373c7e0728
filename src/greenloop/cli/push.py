"""Push commands: `tiers push` and `tiers verify` (registered on the `tiers` group)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from greenloop.cli.analytics import tiers_app
from greenloop.cli.support import (
    ConfigOption,
    JsonOption,
    VerboseOption,
    print_json,
    settings_from,
    translate_errors,
)

if TYPE_CHECKING:
    from greenloop.push.apply import PushReport
    from greenloop.push.verify import VerifyReport

__all__ = ["print_push", "print_verify", "register"]


def register() -> None:
    """Nothing to add: importing this module adds its commands to the `tiers` group."""


@tiers_app.command("push")
@translate_errors
def push_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the exact plan; change nothing in Lightspeed.")
    ] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", help="Move at most N customers (highest tiers first).")
    ] = None,
    log_file: Annotated[
        Path | None,
        typer.Option(
            "--log-file", help="Where to write tier_sync_log.json (default: jobs.output_dir)."
        ),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Move changed customers into their tier's customer group in Lightspeed.

    Only customers whose group differs from their tier's are moved, only out of groups GreenLoop manages (Staff, Wholesale and other groups are never touched), in batches within the rate limit. Every run is logged.

    Example: greenloop tiers push --dry-run
    """
    from greenloop.services import push as push_service

    settings = settings_from(config, verbose)
    report, path = push_service.run_push(settings, dry_run=dry_run, limit=limit, log_file=log_file)
    if as_json:
        print_json({**report.as_json(), "log_file": str(path)})
    else:
        print_push(report)
        typer.echo(f"log:        {path}")
    if not report.ok:
        if report.error and not as_json:
            typer.echo(f"error: {report.error}", err=True)
        raise typer.Exit(1)


@tiers_app.command("verify")
@translate_errors
def verify_command(
    config: ConfigOption = None, as_json: JsonOption = False, verbose: VerboseOption = False
) -> None:
    """Compare the groups customers are in (read from Lightspeed) with their tiers.

    Lists each customer out of place with a guess at why (moved by staff, merged, deleted, pending push); the exit code is 1 when anything mismatches.
    """
    from greenloop.services import push as push_service

    report = push_service.run_verify(settings_from(config, verbose))
    if as_json:
        print_json(report.as_json())
    else:
        print_verify(report)
    if not report.ok:
        raise typer.Exit(1)


def print_push(report: PushReport) -> None:
    data = report.as_json()
    title = "dry run: nothing changed in Lightspeed" if report.dry_run else "push"
    typer.echo(f"{title} (run {report.run_id}, {report.outcome})")
    typer.echo(
        f"{'tier':<18} {'group':<30} {'in':>6} {'out':>6} {'protected':>9} {'placeholder':>11}"
    )
    for tier, row in data["tiers"].items():
        typer.echo(
            f"{tier:<18} {row['group'] or '-'!s:<30} {row['moves_in']:>6} {row['moves_out']:>6} "
            f"{row['protected_skips']:>9} {row['placeholder_skips']:>11}"
        )
    for name in report.missing_groups:
        typer.echo(f"would create the group {name!r}")
    for name in report.created_groups:
        typer.echo(f"created the group {name!r}")
    if report.dry_run:
        for move in data["moves"][:50]:
            typer.echo(f"  {move['customer_id']}: {move['from']} → {move['to']}")
        if len(data["moves"]) > 50:
            typer.echo(f"  … and {len(data['moves']) - 50:,} more (--json lists them all)")
    requests = data["requests"]
    typer.echo(
        f"customers:  {data['customers']:,}; planned {data['planned_moves']:,}, moved "
        f"{report.moved:,}, unchanged {data['unchanged']:,}, deferred {data['deferred_by_limit']:,}"
    )
    if report.failed or report.not_taken or report.not_sent:
        typer.echo(
            f"problems:   {len(report.failed):,} failed, {len(report.not_taken):,} did not take, "
            f"{report.not_sent:,} not sent (the next run retries them)"
        )
    if report.hand_moves:
        typer.echo(
            f"hand moves: {len(report.hand_moves):,} customers moved by hand since the last push"
        )
    typer.echo(
        f"requests:   {requests['total']:,} ({requests['refresh']} refresh, "
        f"{requests['moves']} moves in {report.batches} batches, {requests['reread']} re-read); "
        f"minimum for the moves {requests['minimum_moves']}"
    )


def print_verify(report: VerifyReport) -> None:
    typer.echo(f"{'group':<34} {'expected':>9} {'in Lightspeed':>14}")
    for row in report.groups:
        typer.echo(f"{row['group']:<34} {row['expected']:>9,} {row['actual']:>14,}")
    if report.ok:
        typer.echo(f"all {report.customers:,} customers are in the expected group")
        return
    typer.echo(f"{len(report.mismatches):,} customers are not where GreenLoop expects:")
    for m in report.mismatches[:100]:
        typer.echo(f"  {m.customer_id}: in {m.group}, expected {m.expected_group} ({m.reason})")
    if len(report.mismatches) > 100:
        typer.echo(f"  … and {len(report.mismatches) - 100:,} more (--json lists them all)")
