"""``greenloop simulator``: serve the fake X-Series API, or write a generated store or its
eCom orders export."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from greenloop.simulator.config import SimulatorConfig
from greenloop.simulator.model import StoreData, dump_store, load_store
from greenloop.simulator.oauth import DEFAULT_ACCESS_SECONDS, DEFAULT_REFRESH_SECONDS
from greenloop.simulator.webhook_knobs import WebhookKnobs
from greenloop.simulator.webhook_payloads import SIGNATURE_ENCODINGS

__all__ = ["app"]

app = typer.Typer(
    help="A local Lightspeed X-Series API 2.0 simulator with a generated store.",
    no_args_is_help=True,
)


class EmptyVersion(StrEnum):
    null_fields = "null_fields"
    null = "null"
    absent = "absent"


Seed = Annotated[int, typer.Option(help="Random seed of the generated store.")]
Customers = Annotated[int, typer.Option(help="How many customers to generate.")]
Days = Annotated[int, typer.Option(help="How many days of sales history to generate.")]
Sales = Annotated[
    int | None, typer.Option(help="How many sales to generate (default: derived from days).")
]
Anchor = Annotated[
    str | None,
    typer.Option(help="Generate history ending at this UTC time (ISO 8601; default: now)."),
]


def _anchor(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not an ISO 8601 time: {value}", param_hint="--anchor") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


Knobs = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="A generator knob as NAME=VALUE, repeatable (the lifecycle shares, gaps and "
        "rates, e.g. --set churn_per_year=0.5; the README lists them).",
    ),
]
# Set by their own options, not by --set.
_OWN_OPTIONS = frozenset({"seed", "customers", "days", "sales", "anchor"})


def _knobs(values: list[str] | None, config_type: type) -> dict[str, int | float]:
    """``NAME=VALUE`` pairs as keyword arguments of the generator's numeric knobs."""
    import dataclasses

    numeric = {
        field.name: field.type
        for field in dataclasses.fields(config_type)
        if field.name not in _OWN_OPTIONS and field.type in ("int", "float")
    }
    knobs: dict[str, int | float] = {}
    for value in values or ():
        name, sep, text = value.partition("=")
        name = name.strip()
        if not sep or name not in numeric:
            raise typer.BadParameter(
                f"{value!r} is not NAME=VALUE with NAME one of: {', '.join(sorted(numeric))}",
                param_hint="--set",
            )
        try:
            knobs[name] = int(text) if numeric[name] == "int" else float(text)
        except ValueError:
            raise typer.BadParameter(
                f"{name} needs a number ({numeric[name]}), not {text!r}", param_hint="--set"
            ) from None
    return knobs


def _generated(
    seed: int,
    customers: int,
    days: int,
    sales: int | None,
    anchor: str | None,
    knobs: list[str] | None = None,
) -> StoreData:
    # Imported here so the server side works while the generator is absent or broken.
    from greenloop.simulator.generator import GeneratorConfig, generate_store

    try:
        config = GeneratorConfig(
            seed=seed,
            customers=customers,
            days=days,
            sales=sales,
            anchor=_anchor(anchor),
            **_knobs(knobs, GeneratorConfig),  # type: ignore[arg-type]
        )
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--set") from None
    return generate_store(config)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 8765,
    token: Annotated[
        str | None,
        typer.Option(help="Bearer token clients must send (default: a random one, printed)."),
    ] = None,
    customers: Customers = 2000,
    days: Days = 365,
    seed: Seed = 7,
    sales: Sales = None,
    anchor: Anchor = None,
    knobs: Knobs = None,
    store: Annotated[
        Path | None,
        typer.Option(help="Serve this store file (from `dump`) instead of generating one."),
    ] = None,
    page_size_default: Annotated[int, typer.Option(help="Page size of lists.")] = 1000,
    page_size_max: Annotated[int, typer.Option(help="Largest page size served.")] = 5000,
    empty_version: Annotated[
        EmptyVersion, typer.Option(help="How an empty list page reports its version block.")
    ] = EmptyVersion.null_fields,
    rate_limit: Annotated[
        int | None, typer.Option(help="Requests per window (default: 300 x registers + 50).")
    ] = None,
    rate_window: Annotated[float, typer.Option(help="Rate-limit window in seconds.")] = 300.0,
    error_rate: Annotated[float, typer.Option(help="Share of requests answered 500.")] = 0.0,
    write_error_rate: Annotated[float, typer.Option(help="Share of writes answered 500.")] = 0.0,
    latency_ms: Annotated[float, typer.Option(help="Delay added to every request.")] = 0.0,
    timeout_rate: Annotated[float, typer.Option(help="Share of requests that hang.")] = 0.0,
    timeout_seconds: Annotated[float, typer.Option(help="How long a hung request hangs.")] = 30.0,
    malformed_rate: Annotated[float, typer.Option(help="Share of 200s with broken JSON.")] = 0.0,
    fault_seed: Annotated[int, typer.Option(help="Seed of the fault dice and new ids.")] = 0,
    max_group_batch: Annotated[
        int, typer.Option(help="Most customer ids per group-membership request.")
    ] = 1000,
    webhook_secret: Annotated[
        str,
        typer.Option(
            envvar="GREENLOOP_SIM_WEBHOOK_SECRET",
            help="Sign webhook deliveries with this client_secret (default: unsigned).",
        ),
    ] = "",
    webhook_signature_encoding: Annotated[
        str,
        typer.Option(help=f"What X-Signature covers and how: {', '.join(SIGNATURE_ENCODINGS)}."),
    ] = "body:hex",
    webhook_drop_rate: Annotated[
        float, typer.Option(help="Share of webhook deliveries never sent.")
    ] = 0.0,
    webhook_duplicate_rate: Annotated[
        float, typer.Option(help="Share of webhook deliveries sent twice.")
    ] = 0.0,
    webhook_delay_min_ms: Annotated[
        float, typer.Option(help="Shortest wait before a delivery's first attempt.")
    ] = 0.0,
    webhook_delay_max_ms: Annotated[
        float, typer.Option(help="Longest wait before a delivery's first attempt.")
    ] = 0.0,
    webhook_reorder_window: Annotated[
        int, typer.Option(help="Shuffle deliveries in groups of this many (0: in order).")
    ] = 0,
    webhook_max_retries: Annotated[
        int, typer.Option(help="Retries of a delivery not answered 2xx.")
    ] = 20,
    webhook_retry_base: Annotated[
        float, typer.Option(help="First retry delay in seconds (doubles each time).")
    ] = 10.0,
    webhook_timeout: Annotated[
        float, typer.Option(help="Seconds the receiver has to answer a delivery.")
    ] = 5.0,
    oauth_client_id: Annotated[
        str,
        typer.Option(help="Register an OAuth app with this client_id (default: OAuth off)."),
    ] = "",
    oauth_client_secret: Annotated[
        str,
        typer.Option(
            envvar="GREENLOOP_SIM_OAUTH_CLIENT_SECRET",
            help="The OAuth app's client_secret (needed with --oauth-client-id).",
        ),
    ] = "",
    oauth_redirect_uri: Annotated[
        list[str] | None,
        typer.Option(help="An allowed redirect URI, repeatable (default: any http(s) URI)."),
    ] = None,
    access_token_seconds: Annotated[
        int, typer.Option(help="Lifetime of an OAuth access token.")
    ] = DEFAULT_ACCESS_SECONDS,
    refresh_token_seconds: Annotated[
        int, typer.Option(help="Lifetime of an OAuth refresh token.")
    ] = DEFAULT_REFRESH_SECONDS,
    oauth_refresh_grace: Annotated[
        bool,
        typer.Option(
            help="Keep an old refresh token working until the new pair is first used "
            "(default: refused as soon as a new one is issued)."
        ),
    ] = False,
) -> None:
    """Serve the simulator until Ctrl-C, printing its base URL and bearer token.

    Changes are delivered as webhooks to the subscriptions clients create, with the --webhook-* knobs.

    Example: greenloop simulator serve --webhook-drop-rate 0.1
    """
    try:
        webhooks = WebhookKnobs(
            secret=webhook_secret,
            signature_encoding=webhook_signature_encoding,
            drop_rate=webhook_drop_rate,
            duplicate_rate=webhook_duplicate_rate,
            delay_min_ms=webhook_delay_min_ms,
            delay_max_ms=webhook_delay_max_ms,
            reorder_window=webhook_reorder_window,
            max_retries=webhook_max_retries,
            retry_base_seconds=webhook_retry_base,
            timeout_seconds=webhook_timeout,
        )
        config = SimulatorConfig(
            token=token or secrets.token_urlsafe(24),
            default_page_size=page_size_default,
            max_page_size=page_size_max,
            empty_version=empty_version.value,
            rate_limit=rate_limit,
            rate_window_seconds=rate_window,
            error_rate=error_rate,
            write_error_rate=write_error_rate,
            latency_ms=latency_ms,
            timeout_rate=timeout_rate,
            timeout_seconds=timeout_seconds,
            malformed_rate=malformed_rate,
            fault_seed=fault_seed,
            max_group_batch=max_group_batch,
            webhooks=webhooks,
            oauth_client_id=oauth_client_id,
            oauth_client_secret=oauth_client_secret,
            oauth_redirect_uris=tuple(oauth_redirect_uri or ()),
            access_token_seconds=access_token_seconds,
            refresh_token_seconds=refresh_token_seconds,
            oauth_refresh_grace=oauth_refresh_grace,
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    # The server stack (uvicorn, starlette, httpx) is imported only to serve: `greenloop
    # --help` loads this module.
    from greenloop.simulator.server import run_simulator

    data = load_store(store) if store else _generated(seed, customers, days, sales, anchor, knobs)
    run_simulator(data, config, host=host, port=port, echo=typer.echo)


@app.command()
def dump(
    out: Annotated[Path, typer.Option(help="Write the store to this JSON file.")],
    seed: Seed = 7,
    customers: Customers = 2000,
    days: Days = 365,
    sales: Sales = None,
    anchor: Anchor = None,
    knobs: Knobs = None,
    truth: Annotated[
        bool,
        typer.Option(
            help="Write the lifecycle truth (what each person bought after the anchor) "
            "into the file's truth object."
        ),
    ] = True,
) -> None:
    """Write a generated store as JSON, the format `serve --store` reads."""
    data = _generated(seed, customers, days, sales, anchor, knobs)
    if not truth:
        data.truth.pop("lifecycle", None)
    dump_store(data, out)
    typer.echo(f"Wrote {len(data.customers)} customers and {len(data.sales)} sales to {out}")


@app.command("export-ecom")
def export_ecom(
    out: Annotated[Path, typer.Option(help="Write the E-Series orders export CSV to this file.")],
    seed: Seed = 7,
    customers: Customers = 2000,
    days: Days = 365,
    sales: Sales = None,
    anchor: Anchor = None,
    store: Annotated[
        Path | None,
        typer.Option(help="Export the eCom orders of this store file (from `dump`) instead."),
    ] = None,
    excel: Annotated[
        bool,
        typer.Option(
            help="Write the file as Excel re-saves it: BOM, commas, CRLF, numbers and dates "
            "rewritten, long tracking numbers in scientific notation."
        ),
    ] = False,
    timezone: Annotated[
        str, typer.Option(help="Store time zone the export's local times are written in.")
    ] = "America/Chicago",
) -> None:
    """Write the store's eCom orders as a Lightspeed eCom (E-Series) orders export CSV.

    One row per line item, newest order first, orders not yet in X-Series included.
    """
    # Imported here, like the generator, so `serve` keeps working without the eCom package.
    from greenloop.simulator.ecom_export import write_ecom_export

    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise typer.BadParameter(
            f"unknown time zone: {timezone}", param_hint="--timezone"
        ) from None
    if store is None:
        data = _generated(seed, customers, days, sales, anchor)
    else:
        try:
            data = load_store(store)
        except (OSError, ValueError) as error:
            raise typer.BadParameter(
                f"cannot read {store}: {error}", param_hint="--store"
            ) from None
    try:
        rows = write_ecom_export(data.ecom_orders, out, timezone=timezone, excel=excel)
    except OSError as error:
        raise typer.BadParameter(f"cannot write {out}: {error}", param_hint="--out") from None
    typer.echo(f"Wrote {len(data.ecom_orders)} eCom orders ({rows} rows) to {out}")
