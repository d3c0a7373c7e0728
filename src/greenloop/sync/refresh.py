"""Re-read one sale or customer by id and store it: what a webhook delivery leads to.

A delivery is only a hint that something changed: it can be late, repeated, out of
order, or in the old 1.0 shape (reference §8). So its payload is never applied. The
object is read again from the 2.0 API and upserted with the version guard (an older
copy never overwrites a newer one).
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, select

from greenloop.errors import ApiRejected, BadResponse, RetryableError
from greenloop.lightspeed import models as m
from greenloop.lightspeed.client import LightspeedClient
from greenloop.store import repo
from greenloop.store import tables as t

__all__ = ["NotYet", "refresh"]


class NotYet(RetryableError):
    """The object is not readable (404) yet: Lightspeed can announce an object a moment
    before its API serves it. Retried a few times before it is taken as deleted."""

    hint = "Retried shortly; after a few tries the object is taken as deleted."


def refresh(
    engine: Engine, client: LightspeedClient, kind: str, object_id: str
) -> tuple[bool, list[str]]:
    """Whether a newer copy was stored, and the customers the change concerns."""
    if kind == "sale.update":
        return _refresh_sale(engine, client, object_id)
    if kind == "customer.update":
        return _refresh_customer(engine, client, object_id), [object_id]
    raise BadResponse(f"the inbox holds an unknown webhook type '{kind}'")


def _read(client: LightspeedClient, collection: str, object_id: str) -> dict[str, Any]:
    path = f"/api/2.0/{collection}/{quote(object_id, safe='')}"
    try:
        data = client.get_data(path, label=f"webhook:{collection}")
    except ApiRejected as exc:
        if exc.status == 404:
            raise NotYet(f"{collection} {object_id} is not found in Lightspeed") from None
        raise
    if not isinstance(data, dict) or data.get("id") != object_id:
        raise BadResponse(f"GET {path}: the answer is not that object")
    return data


def _refresh_sale(engine: Engine, client: LightspeedClient, sale_id: str) -> tuple[bool, list[str]]:
    sale = m.parse_sale(_read(client, "sales", sale_id))
    cust = t.customers.c
    with engine.begin() as conn:
        before = conn.execute(select(t.sales.c.customer_id).where(t.sales.c.id == sale_id)).scalar()
        counts = repo.upsert_sales(conn, [sale])
        # A sale moved from one customer to another changes both.
        customers = sorted({c for c in (before, sale.customer_id) if c})
        # One transaction for all of it: on PostgreSQL each one is round trips.
        known = set(conn.execute(select(cust.id).where(cust.id.in_(customers))).scalars())
    changed = counts.new + counts.updated > 0
    for customer_id in customers:
        # A customer created at the till can reach us after their first sale.
        if customer_id not in known:
            with contextlib.suppress(NotYet):
                changed |= _refresh_customer(engine, client, customer_id)
    return changed, customers


def _refresh_customer(engine: Engine, client: LightspeedClient, customer_id: str) -> bool:
    customer = m.parse_customer(_read(client, "customers", customer_id))
    with engine.begin() as conn:
        counts = repo.upsert_versioned(conn, t.customers, [customer])
    return counts.new + counts.updated > 0
