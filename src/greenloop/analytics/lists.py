"""Lists over everyone: at-risk persons and the placeholder values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Numeric, cast, or_, select

from greenloop.store import tables as t

__all__ = ["at_risk", "placeholder_list"]

# Below this probability of still being a customer, the model calls a person at risk.
LOW_P_ALIVE = Decimal("0.5")


def at_risk(conn: Connection, limit: int | None = None) -> list[dict[str, Any]]:
    """Persons past their purchase cycle, unlikely to be active, or about to drop a tier,
    most valuable first."""
    p = t.persons.c
    query = (
        select(
            p.id,
            p.name,
            p.email,
            p.phone,
            p.tier,
            p.lifetime_value,
            p.last_purchase,
            p.average_cycle_days,
            p.risk,
            p.drop_at_review,
            p.review_at,
            p.p_alive,
            p.predicted_value_12m,
            p.keep,
        )
        .where(or_(p.risk.in_(("at_risk", "lapsed")), p.drop_at_review.is_(True)))
        .order_by(cast(p.lifetime_value, Numeric).desc(), p.id)  # text on SQLite
    )
    if limit:
        query = query.limit(limit)
    rows = []
    for r in conn.execute(query):
        why = []
        if r.risk == "at_risk":
            why.append("past their usual purchase cycle")
        elif r.risk == "lapsed":
            why.append("past two purchase cycles (lapsed)")
        if r.drop_at_review:
            why.append(f"drops from {r.tier} at the review on {r.review_at.date().isoformat()}")
        if r.p_alive is not None and r.p_alive < LOW_P_ALIVE:
            why.append(f"probability still active {r.p_alive}")
        rows.append(
            {
                "person_id": r.id,
                "name": r.name,
                "email": r.email,
                "phone": r.phone,
                "tier": r.tier,
                "lifetime_value": str(r.lifetime_value),
                "last_purchase": r.last_purchase.isoformat() if r.last_purchase else None,
                "average_cycle_days": None
                if r.average_cycle_days is None
                else str(r.average_cycle_days),
                "risk": r.risk,
                "drop_at_review": r.drop_at_review,
                "review_at": r.review_at.isoformat() if r.review_at else None,
                "p_alive": None if r.p_alive is None else str(r.p_alive),
                "predicted_value_12m": None
                if r.predicted_value_12m is None
                else str(r.predicted_value_12m),
                "what_keeps_tier": r.keep,
                "why": why,
            }
        )
    return rows


def placeholder_list(conn: Connection) -> list[dict[str, Any]]:
    ph = t.placeholders.c
    return [
        {"kind": r.kind, "value": r.value, "reason": r.reason, "profiles": r.profiles}
        for r in conn.execute(
            select(ph.kind, ph.value, ph.reason, ph.profiles).order_by(ph.profiles.desc(), ph.value)
        )
    ]
