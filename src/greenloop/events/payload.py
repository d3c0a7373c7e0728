"""What a tier-change event says: the change, its reasons, and who it is about.

The person's contact fields are read when the event is sent, not when the tier
changed, so a notification goes to the address the customer has now. A person merged
away since (their profiles now belong to another person) is still announced, with the
change as it was recorded and no contact fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from greenloop.store import tables as t
from greenloop.store.events_repo import EventRow

__all__ = ["EVENT_TYPE", "event_body", "load_people"]

EVENT_TYPE = "tier.changed"
_p = t.persons.c
_m = t.identity_members.c


def load_people(conn: Connection, person_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The current row of each person, with the Lightspeed customer ids of its profiles."""
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    people: dict[str, dict[str, Any]] = {
        row.id: {
            "person_id": row.id,
            "customer_id": row.primary_customer_id,
            "customer_code": row.customer_code,
            "name": row.name,
            "email": row.email,
            "phone": row.phone,
            "loyalty_enrolled": row.loyalty_enrolled,
            "lifetime_value": _money(row.lifetime_value),
            "tier": row.tier,
            "to_next": row.to_next,
            "keep": row.keep,
            "review_at": row.review_at.isoformat() if row.review_at else None,
            "customer_ids": [],
        }
        for row in conn.execute(
            select(
                _p.id,
                _p.primary_customer_id,
                _p.customer_code,
                _p.name,
                _p.email,
                _p.phone,
                _p.loyalty_enrolled,
                _p.lifetime_value,
                _p.tier,
                _p.to_next,
                _p.keep,
                _p.review_at,
            ).where(_p.id.in_(ids))
        )
    }
    for person_id, customer_id in conn.execute(
        select(_m.person_id, _m.customer_id)
        .where(_m.person_id.in_(ids), _m.customer_id.is_not(None))
        .order_by(_m.customer_id)
    ):
        if person_id in people:
            people[person_id]["customer_ids"].append(customer_id)
    return people


def event_body(event: EventRow, person: dict[str, Any] | None) -> bytes:
    """The JSON body of one event, as sent."""
    body = {
        "id": event.event_id,
        "type": EVENT_TYPE,
        "occurred_at": event.at.isoformat(),
        "person_id": event.person_id,
        "change": event.change,
        "from_tier": event.from_tier,
        "to_tier": event.to_tier,
        "reason": event.reason,
        "reasons": event.reasons,
        "person": person,
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
