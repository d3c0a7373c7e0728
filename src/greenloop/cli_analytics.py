"""Analytics commands: analyze, customers …, tiers preview, export master."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from greenloop import operations
from greenloop.cli_support import (
    ConfigOption,
    JsonOption,
    print_json,
    settings_from,
    translate_errors,
)
from greenloop.errors import ConfigError

__all__ = ["register"]

NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="Evaluate as if it were this moment (ISO date or time, UTC); for backfills and tests.",
        show_default=False,
    ),
]


def parse_moment(text: str | None, option: str = "--now") -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{option} '{text}' is not a date", hint="Write it like 2026-11-01 or 2026-11-01T02:00."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def analyze_command(
    config: ConfigOption = None, as_json: JsonOption = False, now: NowOption = None
) -> None:
    """Recompute identities, metrics, tiers and risk for everyone.

    Only persons whose figures changed are written; tier changes go to the history with
    their reasons, and today's tier counts to the snapshots. Example: greenloop analyze --json
    """
    report = operations.analyze(settings_from(config), now=parse_moment(now))
    if as_json:
        print_json(report.as_json())
        return
    typer.echo(f"persons:   {report.persons:,} (from {report.profiles:,} profiles)")
    typer.echo(f"purchases: {report.purchases:,} ({report.unattributed_purchases:,} walk-in)")
    typer.echo("tiers:     " + ", ".join(f"{k} {v:,}" for k, v in report.tier_counts.items()))
    changes = ", ".join(f"{k} {v:,}" for k, v in report.changes.items()) or "none"
    typer.echo(f"changed:   {report.changed:,} ({changes})")
    predictions = report.predictions
    if predictions.get("fitted"):
        typer.echo(f"predictions: fitted in {predictions['fit_seconds']} s")
    else:
        typer.echo("predictions: not yet (" + "; ".join(predictions.get("reasons", [])) + ")")
    typer.echo(f"took {report.seconds} s")


def register(app: typer.Typer) -> None:
    app.command("analyze")(translate_errors(analyze_command))
