"""``greenloop customers show``: one person, from the running `serve` when it answers
for this store, else from the database (the same :func:`person_detail` either way)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from greenloop.services.serve_client import ask_serve

if TYPE_CHECKING:
    from greenloop.config import Settings

__all__ = ["show_customer"]


def show_customer(
    settings: Settings, query: str, *, as_of: datetime | None = None
) -> dict[str, Any]:
    # The API shows a person as now; a replay at a past date reads the database.
    if as_of is None:
        served = ask_serve(settings, f"/api/customers/{quote(query, safe='')}")
        if isinstance(served, dict):
            return served
    from greenloop.services import analysis

    return analysis.show_customer(settings, query, as_of=as_of)
