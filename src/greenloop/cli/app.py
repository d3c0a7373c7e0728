"""The ``greenloop`` command line: parse input, call one function, translate errors.

Every command takes ``--config PATH`` (default ``./greenloop.toml``); commands that
report take ``--json`` and then print exactly one JSON object. A ``GreenLoopError``
becomes one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from greenloop.cli.analytics import register as register_analytics
from greenloop.cli.backtest import register as register_backtest
from greenloop.cli.connect import register as register_connect
from greenloop.cli.demo import register as register_demo
from greenloop.cli.events import register as register_events
from greenloop.cli.jobs import run_app
from greenloop.cli.push import register as register_push
from greenloop.cli.review import register as register_review
from greenloop.cli.serve import register as register_serve
from greenloop.cli.support import (
    ConfigOption,
    JsonOption,
    VerboseOption,
    print_json,
    settings_from,
    translate_errors,
)
from greenloop.cli.webhooks import register as register_realtime
from greenloop.simulator.cli import app as simulator_app

if TYPE_CHECKING:
    from greenloop.sync.pull import ResourceResult

__all__ = ["app", "main"]

app = typer.Typer(
    help="GreenLoop: one customer database and self-running loyalty tiers for Lightspeed.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(simulator_app, name="simulator")
register_review()
register_analytics(app)
register_backtest(app)
register_push()
app.add_typer(run_app, name="run")
register_realtime(app)
register_events(app)
register_demo(app)
register_serve(app)
register_connect(app)

# An explicit False for --help of the top level and of each group when it is not given:
# Typer coerces a flag missing from the command line (None) with a pydantic TypeAdapter,
# which would import pydantic for `greenloop customers --help` and every other group's
# help. click's default_map gives the flag its value before that.
app.info.context_settings = {
    "default_map": {
        "help": False,
        **{group.name: {"help": False} for group in app.registered_groups if group.name},
    }
}


@app.command()
@translate_errors
def init(
    config: ConfigOption = None,
    domain_prefix: Annotated[str, typer.Option(help="Your store's domain prefix.")] = "",
    base_url: Annotated[str, typer.Option(help="API origin override (e.g. the simulator).")] = "",
    database_url: Annotated[str, typer.Option(help="Database URL (default: SQLite file).")] = "",
    force: Annotated[bool, typer.Option(help="Overwrite an existing config file.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Write a commented greenloop.toml and create or migrate the database.

    Example: greenloop init --domain-prefix mystore
    """
    from greenloop.services import setup

    result = setup.init_project(
        config,
        domain_prefix=domain_prefix,
        base_url=base_url,
        database_url=database_url,
        force=force,
    )
    if as_json:
        print_json(
            {
                "config": str(result.config_path),
                "config_written": result.config_written,
                "database": result.database_url,
                "revision": result.revision,
            }
        )
        return
    verb = "wrote" if result.config_written else "kept existing"
    typer.echo(f"{verb} {result.config_path}")
    typer.echo(f"database ready at revision {result.revision}: {result.database_url}")


@app.command("sync")
@translate_errors
def sync_command(
    config: ConfigOption = None,
    full: Annotated[bool, typer.Option("--full", help="Start over from version 0.")] = False,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            min=0,
            help="If another sync is running, wait this many seconds for it (0: exit at once).",
        ),
    ] = 60.0,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Pull outlets, registers, users, customer groups, customers and sales from X-Series.

    Incremental by each resource's version cursor; each page commits with its cursor, so an interrupted sync resumes where it stopped. One sync runs at a time: a second one waits (--wait), then exits 3 with "another sync is running since …".

    Example: greenloop sync --json
    """
    from greenloop.services import ingest

    settings = settings_from(config, verbose)

    def progress(name: str, result: ResourceResult) -> None:
        if not as_json and sys.stderr.isatty():
            typer.echo(f"\r  {name}: {result.fetched} fetched", err=True, nl=False)

    report = ingest.run_sync(settings, full=full, progress=progress, wait_seconds=wait)
    if as_json:
        print_json(report.to_json())
        return
    for name, result in report.resources.items():
        typer.echo(
            f"{name:16} {result.fetched:8} fetched  {result.new:7} new  {result.updated:7} updated"
            f"  {result.requests:5} requests  cursor {result.cursor}"
        )
    typer.echo(f"total requests: {report.requests}")


@app.command("import-ecom")
@translate_errors
def import_ecom_command(
    files: Annotated[list[Path], typer.Argument(help="eCom orders export CSV file(s).")],
    config: ConfigOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read and check everything, store nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Import eCom (E-Series) order exports; each file is one transaction.

    Re-importing a file changes nothing; a newer export updates statuses and items. Broken rows are reported as file:line: column: problem, and their orders skipped; the exit code is 1 when anything was rejected.

    Example: greenloop import-ecom orders.csv
    """
    from greenloop.services import ingest

    settings = settings_from(config)
    result = ingest.import_ecom(settings, files, dry_run=dry_run)
    payload = result.to_json()
    if as_json:
        print_json(payload)
    else:
        for warning in payload["warnings"]:
            typer.echo(f"warning: {warning}", err=True)
        for rejected in payload["rejected"]:
            typer.echo(f"rejected: {rejected['message']}", err=True)
        prefix = "would import" if dry_run else "imported"
        typer.echo(
            f"{prefix}: {payload['orders_new']} new, {payload['orders_updated']} updated, "
            f"{payload['orders_unchanged']} unchanged orders; {payload['line_items']} line items; "
            f"{len(payload['rejected'])} rows rejected; {payload['warning_count']} warnings"
        )
    if payload["rejected"]:
        raise typer.Exit(1)


@app.command("reconcile")
@translate_errors
def reconcile_command(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Compare eCom orders with their X-Series sales (matched by order number = source_id).

    Lists orders not yet in X-Series (with age and a likely reason), X-Series eCom sales missing from the exports, stale 'X-series Order ID' hints, amount and time mismatches, and the sync lag.

    Example: greenloop reconcile --json
    """
    from greenloop.services import ingest

    report = ingest.reconcile_ecom(settings_from(config))
    if as_json:
        print_json(report.to_json())
        return
    typer.echo(f"matched orders:            {report.matched}")
    reasons: dict[str, int] = {}
    for row in report.csv_only:
        reasons[row["reason"]] = reasons.get(row["reason"], 0) + 1
    typer.echo(f"only in the eCom export:   {len(report.csv_only)} {reasons or ''}")
    typer.echo(f"only in X-Series:          {len(report.xseries_only)}")
    typer.echo(f"stale X-series Order IDs:  {len(report.stale_hints)}")
    typer.echo(f"amount mismatches:         {len(report.amount_mismatches)}")
    typer.echo(f"matched on gross total:    {len(report.amount_matched_on_gross)}")
    typer.echo(f"time mismatches:           {len(report.time_mismatches)}")
    lag = report.lag_seconds
    typer.echo(f"sync lag (s): p50 {lag.get('p50')}  p95 {lag.get('p95')}  max {lag.get('max')}")


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
