"""`greenloop demo`: the whole pipeline against a generated store, then the dashboard
with live changes (or, with --no-serve, the pipeline once)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from greenloop.cli.support import translate_errors

if TYPE_CHECKING:
    from greenloop.runtime.demo import DemoResult

__all__ = ["register"]


class _BarSteps:
    """A progress bar over the pipeline's steps, with the running step's elapsed time."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(),
            transient=False,
        )
        self._task = self._progress.add_task("starting", total=total)

    def __enter__(self) -> _BarSteps:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    @contextlib.contextmanager
    def step(self, description: str) -> Iterator[None]:
        self._progress.update(self._task, description=description)
        yield
        self._progress.console.print(f"[green]✓[/green] {description}")
        self._progress.advance(self._task)

    def say(self, text: str) -> None:
        self._progress.console.print(text)


@translate_errors
def demo_command(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where the demo config and database go.")
    ] = Path("demo"),
    customers: Annotated[int, typer.Option(help="Customers in the generated store.")] = 2000,
    days: Annotated[int, typer.Option(help="Days of sales history.")] = 365,
    seed: Annotated[int, typer.Option(help="Seed of the generated store.")] = 7,
    port: Annotated[int, typer.Option(help="Dashboard port (0 picks a free one).")] = 8080,
    interval: Annotated[
        float, typer.Option(help="Seconds between live changes in the simulator.", min=0.05)
    ] = 2.0,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Run the pipeline once and exit (for CI).")
    ] = False,
) -> None:
    """Run GreenLoop end to end against a generated store in the simulator, then serve the dashboard while live sales stream in (tiers and charts change as you watch).

    Example: greenloop demo --no-serve
    """
    # The simulator stack is only needed here.
    from greenloop.runtime.demo import PlainSteps, check_port_free, run_demo, serve_demo

    if not no_serve:
        check_port_free("127.0.0.1", port)
    bar = _BarSteps(total=6) if sys.stdout.isatty() else None
    with bar or contextlib.nullcontext():
        steps = bar or PlainSteps(typer.echo)
        result, simulator = run_demo(
            directory, customers=customers, days=days, seed=seed, steps=steps
        )
    try:
        _summary(result)
        if no_serve:
            return
        serve_demo(result, simulator, port=port, interval=interval, say=typer.echo)
    finally:
        simulator.stop()


def _summary(result: DemoResult) -> None:
    for name, res in result.sync.resources.items():
        typer.echo(f"  {name:16} {res.fetched:7} stored   ({res.requests} requests)")
    ecom = result.ecom.to_json()
    typer.echo(f"  eCom orders      {ecom['orders_new']:7} imported")
    analysis = result.analysis
    typer.echo(f"  persons          {analysis.persons:7} from {analysis.profiles} profiles")
    tiers = ", ".join(f"{k} {v}" for k, v in analysis.tier_counts.items())
    typer.echo(f"  tiers            {tiers}")
    typer.echo(f"  history          {result.history_points:7} analyses (weekly, then today)")
    typer.echo(f"  master CSV       {result.master_csv}")
    push = result.push
    typer.echo(
        f"  tiers pushed     {push.moved:7} customers moved into their tier group "
        f"({push.requests.total} requests, {push.outcome})"
    )
    typer.echo(f"pipeline finished in {result.seconds:.1f}s; config: {result.config_path}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
