"""Reading what analytics needs from the store: profiles, purchases, overrides.

Everything is read in a few set-based queries; the all-customers path reads whole
tables, the one-person path reads only the rows of the given profiles and emails (by
index), so the real-time recompute stays in milliseconds.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, func, or_, select

from greenloop.domain.purchases import (
    CountingRules,
    OrderFact,
    Purchase,
    SaleFact,
    merge_purchases,
)
from greenloop.store import tables as t
from greenloop.store.purchase_facts import (
    load_order_facts,
    load_sale_facts,
    moment_reader,
    raw_rows,
)

__all__ = ["Facts", "Profile", "load_all", "load_people", "load_scoped"]


class Profile(NamedTuple):
    # A NamedTuple, not a frozen dataclass: as immutable and typed, and built about five
    # times as fast (a frozen dataclass sets each field through object.__setattr__), which
    # counts at 200,000 profiles a run.
    id: str
    code: str | None
    name: str
    email: str | None
    phones: tuple[str, ...]
    enable_loyalty: bool
    deleted: bool
    group_id: str | None
    created_at: datetime | None
    updated_at: datetime | None
    # What probabilistic matching compares beside the exact keys.
    first_name: str = ""
    last_name: str = ""
    street: str = ""
    postcode: str = ""
    birth_date: str = ""


@dataclass
class Facts:
    profiles: dict[str, Profile] = field(default_factory=dict)
    purchases: list[Purchase] = field(default_factory=list)
    # Raw eCom buyer email → phones seen on that email's orders (for identity).
    order_contacts: dict[str, set[str]] = field(default_factory=dict)
    # Order number → (email, phone), for orders whose email turns out to be a placeholder.
    order_email: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    # Raw eCom buyer email → the name on its latest order (for matching).
    order_names: dict[str, str] = field(default_factory=dict)
    # Raw eCom buyer email → the profiles its orders' X-Series twins were sold to: one
    # purchase, so one buyer, whatever email the checkout was given (a guest checkout).
    order_twins: dict[str, set[str]] = field(default_factory=dict)
    store_emails: list[str] = field(default_factory=list)
    manual_links: list[tuple[str, str]] = field(default_factory=list)
    manual_unlinks: list[tuple[str, str]] = field(default_factory=list)
    # Pairs the last full analysis joined by a match score (a, b, reason): a one-person
    # recompute cannot score the whole store, so it keeps these.
    matched_links: list[tuple[str, str, str]] = field(default_factory=list)


def _display_name(row: object) -> str:
    name = (getattr(row, "name", None) or "").strip()
    if name:
        return name
    parts = [getattr(row, "first_name", None) or "", getattr(row, "last_name", None) or ""]
    return " ".join(p.strip() for p in parts if p.strip()) or "Unknown"


def _name(name: str | None, first: str | None, last: str | None) -> str:
    name = (name or "").strip()
    if name:
        return name
    return " ".join(p.strip() for p in (first or "", last or "") if p.strip()) or "Unknown"


def _all_profiles(conn: Connection) -> dict[str, Profile]:
    """Every profile, read straight from the driver (SQLite: the full analysis' path)."""
    moment = moment_reader(conn.dialect)
    out: dict[str, Profile] = {}
    rows = raw_rows(
        conn,
        "SELECT id, customer_code, name, first_name, last_name, email, phone, mobile, "
        "enable_loyalty, deleted_at, customer_group_id, created_at, updated_at, "
        "physical_address_1, physical_postcode, date_of_birth FROM customers",
    )
    for row in rows:
        cid, code, name, first, last, email, phone, mobile, loyalty, deleted, group, c, u = row[:13]
        street, postcode, born = row[13:]
        out[cid] = Profile(
            cid,
            code,
            _name(name, first, last),
            email,
            tuple(p for p in (phone, mobile) if p),
            bool(loyalty),
            deleted is not None,
            group,
            None if c is None else moment(c),
            None if u is None else moment(u),
            first or "",
            last or "",
            street or "",
            postcode or "",
            born or "",
        )
    return out


def _profiles(conn: Connection, ids: Collection[str] | None) -> dict[str, Profile]:
    if ids is None and conn.dialect.name == "sqlite":
        return _all_profiles(conn)
    c = t.customers.c
    query = select(
        c.id,
        c.customer_code,
        c.name,
        c.first_name,
        c.last_name,
        c.email,
        c.phone,
        c.mobile,
        c.enable_loyalty,
        c.deleted_at,
        c.customer_group_id,
        c.created_at,
        c.updated_at,
        c.physical_address_1,
        c.physical_postcode,
        c.date_of_birth,
    )
    if ids is not None:
        query = query.where(c.id.in_(list(ids)))
    out: dict[str, Profile] = {}
    for r in conn.execute(query):
        out[r.id] = Profile(
            id=r.id,
            code=r.customer_code,
            name=_display_name(r),
            email=r.email,
            phones=tuple(p for p in (r.phone, r.mobile) if p),
            enable_loyalty=bool(r.enable_loyalty),
            deleted=r.deleted_at is not None,
            group_id=r.customer_group_id,
            created_at=r.created_at,
            updated_at=r.updated_at,
            first_name=r.first_name or "",
            last_name=r.last_name or "",
            street=r.physical_address_1 or "",
            postcode=r.physical_postcode or "",
            birth_date=r.date_of_birth or "",
        )
    return out


def _overrides(conn: Connection, facts: Facts) -> None:
    o = t.identity_overrides.c
    for r in conn.execute(select(o.a, o.b, o.action)):
        (facts.manual_links if r.action == "link" else facts.manual_unlinks).append((r.a, r.b))
    m = t.identity_matches.c
    facts.matched_links = [
        (r.a, r.b, r.reason)
        for r in conn.execute(select(m.a, m.b, m.reason).where(m.kind == "auto").order_by(m.a, m.b))
    ]
    facts.store_emails = [
        e for (e,) in conn.execute(select(t.outlets.c.email).where(t.outlets.c.email.is_not(None)))
    ]


def _contacts(facts: Facts, orders: Iterable[OrderFact]) -> list[OrderFact]:
    kept = []
    for order in orders:
        facts.order_contacts.setdefault(order.email, set())
        if order.phone:
            facts.order_contacts[order.email].add(order.phone)
        if order.customer_name:
            facts.order_names[order.email] = order.customer_name
        facts.order_email[order.order_number] = (order.email, order.phone)
        kept.append(order)
    return kept


# Every eCom order's twin sale, looked up by its number. GreenLoop never gathers
# statistics on SQLite, and without them SQLite drove this join from the sales (all of
# them, through the return_for index: 0.3 s for a million); CROSS JOIN keeps the orders
# outside, each finding its twin by source_id (0.06 s).
_ALL_TWINS_SQLITE = (
    "SELECT o.email, s.customer_id FROM ecom_orders AS o CROSS JOIN sales AS s "
    "ON s.source_id = o.order_number WHERE s.customer_id IS NOT NULL "
    "AND s.return_for IS NULL AND lower(s.source) LIKE 'ecw:%'"
)


def _twins(conn: Connection, facts: Facts, numbers: Collection[str] | None = None) -> None:
    if numbers is None and conn.dialect.name == "sqlite":
        for email, customer_id in raw_rows(conn, _ALL_TWINS_SQLITE):
            facts.order_twins.setdefault(email, set()).add(customer_id)
        return
    o, s = t.ecom_orders.c, t.sales.c
    query = (
        select(o.email, s.customer_id)
        .select_from(t.ecom_orders.join(t.sales, s.source_id == o.order_number))
        .where(
            s.customer_id.is_not(None),
            s.return_for.is_(None),
            func.lower(s.source).like("ecw:%"),
        )
    )
    if numbers is not None:
        if not numbers:
            return
        query = query.where(o.order_number.in_(sorted(numbers)))
    for email, customer_id in conn.execute(query):
        facts.order_twins.setdefault(email, set()).add(customer_id)


def load_people(conn: Connection) -> tuple[Facts, list[OrderFact]]:
    """Everything identity needs (profiles, eCom buyers, overrides), without the sales,
    and the eCom orders."""
    facts = Facts(profiles=_profiles(conn, None))
    _overrides(conn, facts)
    orders = _contacts(facts, load_order_facts(conn))
    _twins(conn, facts)
    return facts, orders


def load_all(conn: Connection, rules: CountingRules) -> Facts:
    facts, orders = load_people(conn)
    facts.purchases = merge_purchases(load_sale_facts(conn), orders, rules).purchases
    return facts


def load_scoped(
    conn: Connection,
    rules: CountingRules,
    customer_ids: Collection[str],
    emails: Collection[str],
    order_numbers: Collection[str] = (),
) -> Facts:
    """The facts of some profiles, eCom emails (as the orders wrote them) and orders
    only: their sales (with the twins and originals the merge needs) and their orders."""
    facts = Facts(profiles=_profiles(conn, customer_ids))
    _overrides(conn, facts)
    s = t.sales.c
    o = t.ecom_orders.c
    order_where = []
    if emails:
        order_where.append(o.email.in_(list(emails)))
    if order_numbers:
        order_where.append(o.order_number.in_(list(order_numbers)))
    order_rows = list(load_order_facts(conn, where=or_(*order_where))) if order_where else []
    numbers = [order.order_number for order in order_rows]
    conditions = [s.customer_id.in_(list(customer_ids))] if customer_ids else []
    if numbers:
        conditions.append(s.source_id.in_(numbers))
    sales: list[SaleFact] = load_sale_facts(conn, where=or_(*conditions)) if conditions else []
    # A return's channel is its original's; fetch originals not already here.
    have = {sale.id for sale in sales}
    originals = {sale.return_for for sale in sales if sale.return_for} - have
    if originals:
        sales += load_sale_facts(conn, where=s.id.in_(list(originals)))
    # Orders twinned with these sales but placed under another email.
    twin_numbers = {x.source_id for x in sales if x.is_ecom_source and x.source_id} - set(numbers)
    if twin_numbers:
        order_rows += list(load_order_facts(conn, where=o.order_number.in_(list(twin_numbers))))
    orders = _contacts(facts, order_rows)
    _twins(conn, facts, [order.order_number for order in orders])
    keep_customers = set(customer_ids)
    keep_emails = set(emails)
    keep_orders = set(order_numbers)
    facts.purchases = [
        p
        for p in merge_purchases(sales, orders, rules).purchases
        if (p.customer_id in keep_customers)
        or (
            p.customer_id is None
            and ((p.email is not None and p.email in keep_emails) or p.order_number in keep_orders)
        )
    ]
    return facts
