"""One computed person as a full analysis carries it between its stages (and processes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from greenloop.analytics.compute import HistoryEntry
from greenloop.store.person_inputs import Carried

if TYPE_CHECKING:
    from greenloop.domain.predictions import CustomerSummary

__all__ = ["Computed", "Entry", "Outcome", "RawEntry"]

# A timeline entry: when, the value, the purchase flags.
Entry = tuple[datetime, Decimal, int]
# The same entry as a full analysis reads it: the moment as ISO-8601 text and the value
# as its Decimal text (parsed only for the persons computed again).
RawEntry = tuple[str, str, int]


@dataclass
class Outcome:
    """What the rest of a full analysis needs of one computed person: the row to store
    (``risk`` and the predictions are filled in once everyone is computed), the digest
    of its early columns, the tier change, and the inputs of the risk rule and the store
    cycle."""

    row: dict[str, Any]
    digest: bytes
    history: HistoryEntry | None
    days_since_last: int | None
    visits: int
    average_cycle_days: Decimal | None
    # What to keep for carrying the row over next time (analytics.carry_over); None when
    # it was carried over this time, or carrying over is off.
    fingerprint: Carried | None = None
    # Taken as stored, not computed (analytics.carry_over).
    carried: bool = False


Computed = tuple[list[Outcome], dict[str, "CustomerSummary"]]
