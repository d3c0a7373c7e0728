"""Analytics commands: analyze, customers …, tiers preview, export master."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from greenloop.cli.support import (
    ConfigOption,
    JsonOption,
    VerboseOption,
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


def _money(text: str | None) -> str:
    """Two decimals for people; the stored value keeps the API's precision."""
    return "" if text is None else f"{Decimal(text).quantize(Decimal('0.01')):,}"


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


AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="What-if: everything as if it were this date (ISO date or time, UTC), purchases "
        "after it ignored; nothing is written.",
        show_default=False,
    ),
]


def analyze_command(
    config: ConfigOption = None,
    as_json: JsonOption = False,
    now: NowOption = None,
    as_of: AsOfOption = None,
) -> None:
    """Recompute identities, metrics, tiers and risk for everyone.

    Only persons whose figures changed are written; tier changes go to the history with their reasons, and today's tier counts to the snapshots. With --as-of it is a what-if as of that date and writes nothing.

    Example: greenloop analyze --json
    """
    from greenloop.services import analysis

    settings = settings_from(config)
    moment = parse_moment(as_of, "--as-of")
    if moment is not None and now:
        raise ConfigError("--as-of and --now cannot be used together", hint="Give one of them.")
    if moment is not None:
        report = analysis.analyze_as_of(settings, moment)
    else:
        report = analysis.analyze(settings, now=parse_moment(now))
    if as_json:
        payload = report.as_json()
        if moment is not None:
            # Walk-in purchases are not counted by date in a what-if (see what_if_report).
            payload.update(run_id=None, what_if=True, unattributed_purchases=None)
        print_json(payload)
        return
    if moment is not None:
        typer.echo(f"as of {moment.isoformat()} (what-if, nothing written)")
    typer.echo(f"persons:   {report.persons:,} (from {report.profiles:,} profiles)")
    if moment is not None:
        typer.echo(f"purchases: {report.purchases:,} by persons up to then")
    else:
        typer.echo(f"purchases: {report.purchases:,} ({report.unattributed_purchases:,} walk-in)")
    typer.echo("tiers:     " + ", ".join(f"{k} {v:,}" for k, v in report.tier_counts.items()))
    changes = ", ".join(f"{k} {v:,}" for k, v in report.changes.items()) or "none"
    verb = "would change" if moment is not None else "changed"
    typer.echo(f"{verb}:   {report.changed:,} ({changes})")
    predictions = report.predictions
    if predictions.get("fitted"):
        typer.echo(f"predictions: fitted in {predictions['fit_seconds']} s")
    else:
        typer.echo("predictions: not yet (" + "; ".join(predictions.get("reasons", [])) + ")")
    typer.echo(f"took {report.seconds} s")


customers_app = typer.Typer(help="Look up persons and manage identity.", no_args_is_help=True)
tiers_app = typer.Typer(
    help="The tier program: preview, lock, push to Lightspeed groups, verify.",
    no_args_is_help=True,
)
export_app = typer.Typer(help="Write files for other tools.", no_args_is_help=True)


@customers_app.command("show")
@translate_errors
def show_command(
    query: Annotated[
        str, typer.Argument(help="Name, email, phone, customer code, customer or person id.")
    ],
    config: ConfigOption = None,
    as_json: JsonOption = False,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Replay the tier at this past date from the stored facts."),
    ] = None,
    verbose: VerboseOption = False,
) -> None:
    """One person: profiles and why they are linked, purchases from both channels, metrics, tier and why, what reaches the next tier or keeps this one, history, predictions.

    Example: greenloop customers show "(615) 238-4410" --json
    """
    from greenloop.services.lookup import show_customer

    settings = settings_from(config, verbose)
    detail = show_customer(settings, query, as_of=parse_moment(as_of, "--as-of"))
    if as_json:
        print_json(detail)
        return
    typer.echo(
        f"{detail['name']}  [{detail['person_id']}]  "
        f"{detail['email'] or ''}  {detail['phone'] or ''}"
    )
    typer.echo(f"tier: {detail['tier'] or 'none'} since {detail['tier_since'] or '-'}")
    for line in detail["reasons"]:
        typer.echo(f"  why: {line}")
    for line in detail["to_next"]:
        typer.echo(f"  next: {line}")
    for line in detail["keep"]:
        typer.echo(f"  keep: {line}")
    typer.echo(
        f"lifetime value {_money(detail['lifetime_value'])} "
        f"(eCom {_money(detail['ecom_value'])}, in store "
        f"{_money(detail['instore_value'])}); {detail['purchase_count']} purchases, "
        f"{detail['visits']} visits; "
        f"risk {detail['risk']}"
    )
    typer.echo(f"profiles ({len(detail['profiles'])}):")
    for prof in detail["profiles"]:
        flags = " deleted" if prof["deleted"] else ""
        typer.echo(
            f"  {prof['id']}  {prof['name']}  {prof['email'] or ''}  "
            f"group {prof['group'] or '-'}{flags}"
        )
    for link in detail["links"]:
        typer.echo(f"  linked {link['a']} ~ {link['b']}: {link['reason']}")
    typer.echo(f"purchases ({len(detail['purchases'])}):")
    for item in detail["purchases"][-15:]:
        ids = " / ".join(x for x in (item["sale_id"], item["order_number"]) if x)
        counted = "" if item["counts"] else "  (not counted)"
        typer.echo(
            f"  {item['occurred_at'][:16]}  {item['channel']:8} "
            f"{_money(item['value']):>10}  {ids}{counted}"
        )
    for entry in detail["history"]:
        typer.echo(
            f"  {entry['at'][:16]}  {entry['from'] or '-'} → {entry['to'] or '-'}  "
            f"({entry['change']})"
        )
    if "as_of" in detail:
        replayed = detail["as_of"]
        typer.echo(
            f"as of {replayed['at'][:10]}: {replayed['tier'] or 'none'} "
            + (
                f"(history says {replayed['recorded_tier'] or 'none'})"
                if replayed["matches_history"] is not None
                else "(replayed daily: GreenLoop recorded nothing before then)"
            )
        )


@customers_app.command("at-risk")
@translate_errors
def at_risk_command(
    config: ConfigOption = None,
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many (0: all).")] = 0,
) -> None:
    """Persons past their purchase cycle, unlikely to be active, or about to drop a tier, most valuable first.

    Example: greenloop customers at-risk --limit 20"""
    from greenloop.services import analysis

    rows = analysis.customers_at_risk(settings_from(config), limit=limit or None)
    if as_json:
        print_json({"count": len(rows), "customers": rows})
        return
    for row in rows:
        typer.echo(
            f"{row['person_id']}  {row['name'] or '':30} {_money(row['lifetime_value']):>10}  "
            f"{'; '.join(row['why'])}"
        )
    typer.echo(f"{len(rows)} at risk")


@customers_app.command("placeholders")
@translate_errors
def placeholders_command(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Emails and phones treated as placeholders (they link nobody), and why."""
    from greenloop.services import analysis

    rows = analysis.list_placeholders(settings_from(config))
    if as_json:
        print_json({"count": len(rows), "placeholders": rows})
        return
    for row in rows:
        typer.echo(
            f"{row['kind']:5} {row['value']:40} {row['profiles']:>5} profiles  {row['reason']}"
        )
    typer.echo(f"{len(rows)} placeholders")


def _override(a: str, b: str, config: Any, as_json: bool, note: str, unlink: bool) -> None:
    from greenloop.services import analysis

    result = analysis.link_profiles(settings_from(config), a, b, unlink=unlink, note=note)
    if as_json:
        print_json(
            {
                "persons": result.persons,
                "removed": result.removed,
                "tier_changes": result.tier_changes,
            }
        )
        return
    verb = "unlinked" if unlink else "linked"
    typer.echo(f"{verb}; persons now: {', '.join(result.persons)}")


RefArgument = Annotated[str, typer.Argument(help="A customer id or an eCom buyer's email.")]
NoteOption = Annotated[str, typer.Option("--note", help="Why (kept with the override).")]


@customers_app.command("link")
@translate_errors
def link_command(
    a: RefArgument,
    b: RefArgument,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    note: NoteOption = "",
) -> None:
    """Treat two profiles as one person, whatever the rules say.

    Example: greenloop customers link ID1 ID2
    """
    _override(a, b, config, as_json, note, unlink=False)


@customers_app.command("unlink")
@translate_errors
def unlink_command(
    a: RefArgument,
    b: RefArgument,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    note: NoteOption = "",
) -> None:
    """Keep two profiles apart, whatever the rules say.

    Example: greenloop customers unlink ID1 ID2
    """
    _override(a, b, config, as_json, note, unlink=True)


@tiers_app.command("preview")
@translate_errors
def preview_command(
    program: Annotated[Path, typer.Option("--program", help="A TOML file with a [program] table.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Who would move where under another program (nothing is written).

    Example: greenloop tiers preview --program new-program.toml
    """
    from greenloop.services import analysis

    preview = analysis.preview_tiers(settings_from(config), program)
    if as_json:
        print_json(preview.as_json())
        return
    typer.echo(f"{preview.moves:,} of {preview.persons:,} persons would move")
    for before, row in preview.matrix.items():
        for after, count in row.items():
            if before != after:
                typer.echo(f"  {before:>20} → {after:<20} {count:>6,}")


@tiers_app.command("lock")
@translate_errors
def lock_command(
    query: Annotated[str, typer.Argument(help="The person (as for customers show).")],
    tier: Annotated[str, typer.Argument(help="The tier to hold, or 'none'.")],
    until: Annotated[str, typer.Option("--until", help="Until this date (UTC).")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
    note: NoteOption = "",
) -> None:
    """Keep a person in a tier until a date, whatever the rules say.

    Example: greenloop tiers lock jane@example.com Bloom --until 2027-01-31 --note "VIP event"
    """
    from greenloop.services import analysis

    moment = parse_moment(until, "--until")
    assert moment is not None
    wanted = None if tier.lower() == "none" else tier
    result = analysis.lock_person_tier(settings_from(config), query, wanted, moment, note=note)
    if as_json:
        print_json({"persons": result.persons, "tier_changes": result.tier_changes})
        return
    typer.echo(f"locked {', '.join(result.persons)} to {tier} until {moment.date().isoformat()}")


@export_app.command("master")
@translate_errors
def export_master_command(
    out: Annotated[Path, typer.Option("--out", help="Where to write the CSV.")] = Path(
        "customer_analytics_master.csv"
    ),
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """customer_analytics_master.csv: the retailer's 22 columns, then GreenLoop's."""
    from greenloop.services import analysis

    rows = analysis.export_master(settings_from(config), out)
    if as_json:
        print_json({"file": str(out), "rows": rows})
        return
    typer.echo(f"wrote {rows:,} persons to {out}")


def register(app: typer.Typer) -> None:
    app.command("analyze")(translate_errors(analyze_command))
    app.add_typer(customers_app, name="customers")
    app.add_typer(tiers_app, name="tiers")
    app.add_typer(export_app, name="export")
