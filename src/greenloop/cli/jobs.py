"""Scheduled jobs: `greenloop run daily` (for an external cron or systemd timer)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from greenloop.cli.analytics import parse_moment
from greenloop.cli.support import (
    ConfigOption,
    JsonOption,
    VerboseOption,
    print_json,
    settings_from,
    translate_errors,
)

if TYPE_CHECKING:
    from greenloop.runtime.daily import DailyReport

__all__ = ["print_daily", "run_app"]

run_app = typer.Typer(help="Run a scheduled job once (for cron or a systemd timer).")


@run_app.command("daily")
@translate_errors
def daily_command(
    now: Annotated[
        str | None,
        typer.Option("--now", help="Analyze as of this moment (ISO 8601; default: now)."),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """sync → eCom inbox import → analyze → push → verify → master CSV, as one job.

    Writes customer_analytics_master.csv and tier_sync_log.json to jobs.output_dir. Two runs never overlap. Exit code 0 when every step succeeded, 1 when a step reported problems (refused eCom rows, moves that did not take), 2 when a step failed (the steps after it are skipped and say why, except after the eCom import: an unreadable export is moved to rejected/ with a reason file and the run goes on).

    Example cron line: 0 2 * * * greenloop run daily --config /etc/greenloop/greenloop.toml
    """
    from greenloop.runtime.daily import run_daily

    moment: datetime | None = parse_moment(now)
    report = run_daily(settings_from(config, verbose), now=moment)
    if as_json:
        print_json(report.as_json())
    else:
        print_daily(report)
    if report.exit_code:
        raise typer.Exit(report.exit_code)


def print_daily(report: DailyReport) -> None:
    typer.echo(f"daily run {report.run_id}: {report.outcome}")
    for step in report.steps:
        detail = step.error or ", ".join(
            f"{k} {v}" for k, v in step.summary.items() if not isinstance(v, dict | list)
        )
        typer.echo(f"  {step.name:<14} {step.status:<9} {step.seconds:6.1f}s  {detail}")
    typer.echo(f"output: {report.output_dir}")
