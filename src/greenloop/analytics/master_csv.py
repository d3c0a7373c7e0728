"""``customer_analytics_master.csv``: the retailer's 22 columns first, then GreenLoop's.

The first 22 columns keep the names, order and meaning of the file the retailer's
scripts write (reference SEED_SCRIPTS_FACTS.md §1), so their spreadsheets and the
old sync script keep working: one row per person, keyed by the primary profile's id;
"Duplicate IDs" lists the other profiles. Two of the old quirks are fixed, not copied:
a person with no orders is "none" in Inactive Segment (not "active"), and order dates
are the sale date (not the record's creation time). Money has two decimals.

Text cells go through :func:`greenloop.analytics.csv_cells.csv_cell`, so nothing in the
file runs as a spreadsheet formula; the file holds personal data and is written 0600.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Connection, Numeric, cast, select

from greenloop.analytics.csv_cells import csv_row
from greenloop.store import tables as t

__all__ = ["MASTER_COLUMNS", "RETAILER_COLUMNS", "master_rows", "write_master", "write_master_to"]

RETAILER_COLUMNS = (
    "Customer ID",
    "Customer Code",
    "Name",
    "Email",
    "Phone",
    "Lifetime Value",
    "Rolling 90-Day Value",
    "Order Count",
    "Rolling 90-Day Order Count",
    "Average Order Value",
    "First Order Date",
    "Last Order Date",
    "Days Since Last Order",
    "Is VIP",
    "Is High Value",
    "Inactive Segment",
    "Tier",
    "Referred Sales",
    "eCom Order Count",
    "Retail Order Count",
    "Duplicate IDs",
    "Note",
)
GREENLOOP_COLUMNS = (
    "Person ID",
    "Profiles",
    "Loyalty Enrolled",
    "Visits",
    "Visits Last 30 Days",
    "eCom Value",
    "In-Store Value",
    "Returns Value",
    "Average Cycle Days",
    "Earned Tier",
    "Tier Since",
    "Next Review",
    "Tier Reasons",
    "To Next Tier",
    "Keeps Tier",
    "Risk",
    "Drops At Review",
    "Probability Active",
    "Expected Purchases 90 Days",
    "Predicted 12-Month Value",
)
MASTER_COLUMNS = RETAILER_COLUMNS + GREENLOOP_COLUMNS

CENT = Decimal("0.01")
VIP = Decimal(1000)
HIGH_VALUE = Decimal(500)


def _money(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT, rounding=ROUND_HALF_UP)


def _day(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else ""


def _segment(days: int | None) -> str:
    if days is None:
        return "none"
    if days >= 90:
        return "90d"
    if days >= 60:
        return "60d"
    if days >= 30:
        return "30d"
    return "active"


def master_rows(conn: Connection, now: datetime) -> Iterator[dict[str, Any]]:
    """One row per person, most valuable first: numbers as numbers (Decimal, int),
    everything else as text; None is an empty cell."""
    p = t.persons.c
    for r in conn.execute(select(t.persons).order_by(cast(p.lifetime_value, Numeric).desc(), p.id)):
        days = (now - r.last_purchase).days if r.last_purchase else None
        value: Decimal = r.lifetime_value
        others = [i for i in r.profile_ids if i != r.primary_customer_id]
        notes = []
        if others:
            notes.append(f"Merged {len(others)} duplicate records")
        if r.purchases == 0:
            notes.append("No orders found")
        row: dict[str, Any] = {
            "Customer ID": r.primary_customer_id or "",
            "Customer Code": r.customer_code or r.primary_customer_id or "",
            "Name": r.name or "Unknown",
            "Email": r.email or "",
            "Phone": r.phone or "",
            "Lifetime Value": _money(value),
            "Rolling 90-Day Value": _money(r.value_90d),
            "Order Count": r.purchases,
            "Rolling 90-Day Order Count": r.purchases_90d,
            "Average Order Value": _money(r.average_order_value or Decimal(0)),
            "First Order Date": _day(r.first_purchase),
            "Last Order Date": _day(r.last_purchase),
            "Days Since Last Order": days,
            "Is VIP": "Yes" if value >= VIP else "No",
            "Is High Value": "Yes" if HIGH_VALUE <= value < VIP else "No",
            "Inactive Segment": _segment(days),
            "Tier": r.tier or "None",
            "Referred Sales": 0,
            "eCom Order Count": r.ecom_purchases,
            "Retail Order Count": r.instore_purchases,
            "Duplicate IDs": ";".join(others),
            "Note": "; ".join(notes),
            "Person ID": r.id,
            "Profiles": r.profiles,
            "Loyalty Enrolled": "Yes" if r.loyalty_enrolled else "No",
            "Visits": r.visits,
            "Visits Last 30 Days": r.visits_30d,
            "eCom Value": _money(r.ecom_value),
            "In-Store Value": _money(r.instore_value),
            "Returns Value": _money(r.returns_value),
            "Average Cycle Days": r.average_cycle_days,
            "Earned Tier": r.earned_tier or "None",
            "Tier Since": _day(r.tier_since),
            "Next Review": _day(r.review_at),
            "Tier Reasons": " | ".join(r.reasons),
            "To Next Tier": " | ".join(r.to_next),
            "Keeps Tier": " | ".join(r.keep),
            "Risk": r.risk,
            "Drops At Review": "Yes" if r.drop_at_review else "No",
            "Probability Active": r.p_alive,
            "Expected Purchases 90 Days": r.expected_purchases_90d,
            "Predicted 12-Month Value": _money(r.predicted_value_12m),
        }
        yield row


def write_master_to(conn: Connection, handle: TextIO, now: datetime) -> int:
    """Write the header and every row to ``handle``; returns the rows."""
    # The old scripts quote only when needed and end lines with "\n".
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(MASTER_COLUMNS)
    count = 0
    for row in master_rows(conn, now):
        writer.writerow(csv_row(row[column] for column in MASTER_COLUMNS))
        count += 1
    return count


def write_master(conn: Connection, out: Path, now: datetime) -> int:
    """Write the file atomically (a reader never sees half of it) and readable by its
    owner only (it holds names, emails and phones); returns the rows."""
    out = Path(out)
    fd, partial = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:  # mkstemp: 0600
            count = write_master_to(conn, handle, now)
        os.replace(partial, out)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return count
