"""``greenloop backtest``: score the predictions made as of a past date against what followed."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import typer

from greenloop.cli.analytics import parse_moment
from greenloop.cli.support import (
    ConfigOption,
    JsonOption,
    print_json,
    settings_from,
    translate_errors,
)

__all__ = ["register"]


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _error(value: float | None) -> str:
    return "" if value is None else f" ({value:+.1%})"


def _money(text: str) -> str:
    return f"{Decimal(text).quantize(Decimal('1')):,}"


def backtest_command(
    as_of: Annotated[
        str,
        typer.Option(
            "--as-of",
            help="Predict as if it were this date (ISO date or time, UTC), then compare with "
            "what the database shows after it.",
        ),
    ],
    horizon_days: Annotated[
        int | None,
        typer.Option(
            "--horizon-days",
            min=1,
            max=730,
            help="Days after --as-of to score against "
            "(default: analytics.backtest_horizon_days, 90).",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Would the predictions and the at-risk list have been right? Computes everything as of --as-of (nothing written), then scores it against the purchases after it: AUC, calibration, predicted vs actual purchases and value, the at-risk list beside a recency-only list. The result is kept for the dashboard's at-risk page.

    Example: greenloop backtest --as-of 2026-06-01 --json
    """
    from greenloop.services import analysis

    moment = parse_moment(as_of, "--as-of")
    assert moment is not None  # the option is required
    result = analysis.backtest(settings_from(config), moment, horizon_days=horizon_days)
    if as_json:
        print_json(result)
        return
    _print(result)


def _print(result: dict[str, Any]) -> None:
    horizon = result["horizon_days"]
    typer.echo(
        f"as of {result['as_of'][:10]}, scored over the next {horizon} days: "
        f"{result['people']:,} people with predictions, {result['bought_again']:,} bought again"
    )
    typer.echo(f"model:        {result['model']}: {result['model_reason']}")
    typer.echo(
        f"AUC:          {_share(result['auc'])}  (P(active) against bought again; 0.5 is a coin)"
    )
    typer.echo(f"calibration:  {_share(result['calibration_error'])} mean gap by decile")
    purchases = result["purchases"]
    typer.echo(
        f"purchases:    predicted {purchases['predicted']:,.1f}, actual {purchases['actual']:,}"
        f"{_error(purchases['error'])}"
    )
    value = result["value_12m"]
    if result["value_year_observed"]:
        actual = f"actual {_money(value['actual'])}{_error(value['error'])}"
    else:
        actual = (
            f"actual so far {_money(value['actual'])} in {value['observed_days']} days "
            "(no error until the year is on record)"
        )
    typer.echo(f"value (365d): predicted {_money(value['predicted'])}, {actual}")
    risk, base = result["at_risk"], result["recency_baseline"]
    typer.echo(
        f"at-risk list: {risk['size']:,} people, precision {_share(risk['precision'])}, "
        f"recall {_share(risk['recall'])} (did not buy within {horizon} days)"
    )
    typer.echo(
        f"recency only: same size, precision {_share(base['precision'])}, "
        f"recall {_share(base['recall'])}"
    )
    if not result["horizon_observed"]:
        typer.echo(
            f"note: the purchases on record end {result['observed_until'][:10]}, before the "
            f"{horizon}-day horizon does: the actual figures are still incomplete"
        )


def register(app: typer.Typer) -> None:
    app.command("backtest")(translate_errors(backtest_command))
