"""Lists over everyone: at-risk persons and the placeholder values."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Numeric, Select, cast, or_, select

from greenloop.store import tables as t

__all__ = ["at_risk", "at_risk_condition", "at_risk_row", "at_risk_select", "placeholder_list"]

# Below this probability of still being a customer, the model calls a person at risk.
LOW_P_ALIVE = Decimal("0.5")


def at_risk_condition() -> Any:
    """Past their cycle (at risk or lapsed), unlikely to still be active, or about to
    drop a tier at the next review."""
    p = t.persons.c
    return or_(
        p.risk.in_(("at_risk", "lapsed")),
        p.drop_at_review.is_(True),
        cast(p.p_alive, Numeric) < LOW_P_ALIVE,
    )


def at_risk_select() -> Select[Any]:
    """The at-risk persons with what the list shows of them (order and page it)."""
    p = t.persons.c
    return select(
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
    ).where(at_risk_condition())


def at_risk_row(r: Any) -> dict[str, Any]:
    """One row of :func:`at_risk_select` as the CLI, the API and the CSV show it."""
    why = []
    if r.risk == "at_risk":
        why.append("past their usual purchase cycle")
    elif r.risk == "lapsed":
        why.append("past two purchase cycles (lapsed)")
    if r.drop_at_review and r.review_at is not None:
        why.append(f"drops from {r.tier} at the review on {r.review_at.date().isoformat()}")
    if r.p_alive is not None and r.p_alive < LOW_P_ALIVE:
        why.append(f"probability still active {r.p_alive}")
    return {
        "person_id": r.id,
        "name": r.name,
        "email": r.email,
        "phone": r.phone,
        "tier": r.tier,
        "lifetime_value": _text(r.lifetime_value),
        "last_purchase": _moment(r.last_purchase),
        "average_cycle_days": _text(r.average_cycle_days),
        "risk": r.risk,
        "drop_at_review": r.drop_at_review,
        "review_at": _moment(r.review_at),
        "p_alive": _text(r.p_alive),
        "predicted_value_12m": _text(r.predicted_value_12m),
        "what_keeps_tier": r.keep,
        "why": why,
    }


def at_risk(conn: Connection, limit: int | None = None) -> list[dict[str, Any]]:
    """Persons past their purchase cycle, unlikely to be active, or about to drop a tier,
    most valuable first."""
    p = t.persons.c
    # Money is text on SQLite: cast so it sorts by amount, not by its first digit.
    query = at_risk_select().order_by(cast(p.lifetime_value, Numeric).desc(), p.id)
    if limit:
        query = query.limit(limit)
    return [at_risk_row(r) for r in conn.execute(query)]


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _moment(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def placeholder_list(conn: Connection) -> list[dict[str, Any]]:
    ph = t.placeholders.c
    return [
        {"kind": r.kind, "value": r.value, "reason": r.reason, "profiles": r.profiles}
        for r in conn.execute(
            select(ph.kind, ph.value, ph.reason, ph.profiles).order_by(ph.profiles.desc(), ph.value)
        )
    ]
