"""``greenloop customers suggestions``: the identity matches waiting for staff."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from greenloop.cli.analytics import customers_app
from greenloop.cli.support import (
    ConfigOption,
    JsonOption,
    print_json,
    settings_from,
    translate_errors,
)

__all__ = ["register"]


def _side(side: dict[str, Any]) -> str:
    person = side.get("person") or {}
    parts = [side.get("name") or "(no name)", side.get("email") or "", side.get("phone") or ""]
    tier = person.get("tier") or "no tier"
    return f"{' · '.join(p for p in parts if p)}  [{side['key']}, {tier}]"


def suggestions_command(
    config: ConfigOption = None,
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option(min=1, help="How many suggestions to list.")] = 20,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many first.")] = 0,
) -> None:
    """Pairs of profiles or eCom buyers that are probably one person, best first, with the evidence for and against. Accept one with `greenloop customers link A B`, reject it with `greenloop customers unlink A B`: either decision is final, and a rejected pair is never suggested again. The dashboard's Review page shows the same queue with the tiers now and if joined.

    Example: greenloop customers suggestions --limit 5
    """
    from greenloop.services import review

    queue = review.review_queue(settings_from(config), limit=limit, offset=offset)
    if as_json:
        print_json(queue)
        return
    if not queue["total"]:
        typer.echo("no suggestions waiting")
        return
    for number, item in enumerate(queue["suggestions"], start=offset + 1):
        left, right = item["sides"]
        typer.echo(f"{number}. {item['probability']:.0%} one person")
        typer.echo(f"   {_side(left)}")
        typer.echo(f"   {_side(right)}")
        for line in item["evidence"]:
            typer.echo(f"   - {line}")
        typer.echo(f"   if joined: {item.get('tier_if_joined') or 'no tier'}")
    typer.echo(f"{queue['total']:,} suggestions waiting")


def register() -> None:
    customers_app.command("suggestions")(translate_errors(suggestions_command))
