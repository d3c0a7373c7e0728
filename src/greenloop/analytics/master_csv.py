"""``customer_analytics_master.csv``: the retailer's 22 columns first, then GreenLoop's.

The first 22 columns keep the names, order and meaning of the file the retailer's
scripts write (reference SEED_SCRIPTS_FACTS.md §1), so their spreadsheets and the
old sync script keep working: one row per person, keyed by the primary profile's id;
"Duplicate IDs" lists the other profiles. Two of the old quirks are fixed, not copied:
a person with no orders is "none" in Inactive Segment (not "active"), and order dates
are the sale date (not the record's creation time). Money has two decimals.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Numeric, cast, select

from greenloop.store import tables as t

__all__ = ["MASTER_COLUMNS", "RETAILER_COLUMNS", "master_rows", "write_master"]

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


def _money(value: Decimal | None) -> str:
    return "" if value is None else str(value.quantize(CENT, rounding=ROUND_HALF_UP))


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


def master_rows(conn: Connection, now: datetime) -> Iterator[dict[str, str]]:
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
            "Days Since Last Order": "" if days is None else days,
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
            "Average Cycle Days": "" if r.average_cycle_days is None else r.average_cycle_days,
            "Earned Tier": r.earned_tier or "None",
            "Tier Since": _day(r.tier_since),
            "Next Review": _day(r.review_at),
            "Tier Reasons": " | ".join(r.reasons),
            "To Next Tier": " | ".join(r.to_next),
            "Keeps Tier": " | ".join(r.keep),
            "Risk": r.risk,
            "Drops At Review": "Yes" if r.drop_at_review else "No",
            "Probability Active": "" if r.p_alive is None else r.p_alive,
            "Expected Purchases 90 Days": ""
            if r.expected_purchases_90d is None
            else r.expected_purchases_90d,
            "Predicted 12-Month Value": _money(r.predicted_value_12m),
        }
        yield {k: str(v) for k, v in row.items()}


def write_master(conn: Connection, out: Path, now: datetime) -> int:
    """Write the file atomically (a reader never sees half of it); returns the rows."""
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    count = 0
    with partial.open("w", encoding="utf-8", newline="") as handle:
        # The old scripts quote only when needed and end lines with "\n".
        writer = csv.DictWriter(handle, fieldnames=MASTER_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in master_rows(conn, now):
            writer.writerow(row)
            count += 1
    partial.replace(out)
    return count
