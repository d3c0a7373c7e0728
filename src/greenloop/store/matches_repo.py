"""Scored identity pairs: written by a full analysis, read by the review queue."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, and_, delete, func, select, update

from greenloop.store import tables as t
from greenloop.store.bulk import bulk_insert

__all__ = [
    "ScoredRow",
    "count_suggestions",
    "drop_pair",
    "find_pair",
    "member_sides",
    "read_suggestions",
    "replace_matches",
    "skip_pair",
]

_COLUMNS = (
    "a",
    "b",
    "kind",
    "probability",
    "score",
    "reason",
    "evidence",
    "computed_at",
    "skipped_at",
)


class ScoredRow(Protocol):
    """What a scored pair offers the store (domain.matching.ScoredPair)."""

    @property
    def a(self) -> str: ...
    @property
    def b(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def probability(self) -> float: ...
    @property
    def evidence(self) -> tuple[str, ...]: ...


def replace_matches(
    conn: Connection,
    auto: Sequence[tuple[ScoredRow, str]],
    suggested: Sequence[tuple[ScoredRow, str]],
    now: datetime,
) -> None:
    """Everything the last full analysis scored; a skip survives while the pair does."""
    m = t.identity_matches.c
    skipped = {
        (r.a, r.b): r.skipped_at
        for r in conn.execute(select(m.a, m.b, m.skipped_at).where(m.skipped_at.is_not(None)))
    }
    conn.execute(delete(t.identity_matches))
    rows = [
        (
            pair.a,
            pair.b,
            kind,
            float(pair.probability),
            float(pair.score),
            reason,
            list(pair.evidence),
            now,
            skipped.get((pair.a, pair.b)) if kind == "suggested" else None,
        )
        for kind, pairs in (("auto", auto), ("suggested", suggested))
        for pair, reason in pairs
    ]
    bulk_insert(conn, t.identity_matches, _COLUMNS, rows)


def read_suggestions(conn: Connection, limit: int, offset: int = 0) -> list[dict[str, Any]]:
    """Suggestions best first; the ones staff skipped go to the end of the queue."""
    m = t.identity_matches.c
    query = (
        select(m.a, m.b, m.probability, m.score, m.reason, m.evidence, m.skipped_at)
        .where(m.kind == "suggested")
        .order_by(m.skipped_at.is_not(None), m.skipped_at, m.probability.desc(), m.a, m.b)
        .limit(limit)
        .offset(offset)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def count_suggestions(conn: Connection) -> int:
    m = t.identity_matches.c
    query = select(func.count()).select_from(t.identity_matches).where(m.kind == "suggested")
    return int(conn.execute(query).scalar_one())


def _pair(a: str, b: str) -> Any:
    m = t.identity_matches.c
    first, second = sorted((a, b))
    return and_(m.a == first, m.b == second)


def find_pair(conn: Connection, a: str, b: str) -> dict[str, Any] | None:
    m = t.identity_matches.c
    row = conn.execute(
        select(m.a, m.b, m.kind, m.probability, m.reason, m.evidence).where(_pair(a, b))
    ).first()
    return None if row is None else dict(row._mapping)


def drop_pair(conn: Connection, a: str, b: str) -> bool:
    """A decided pair leaves the queue (the decision lives in identity_overrides);
    False when it was not there (already decided)."""
    return conn.execute(delete(t.identity_matches).where(_pair(a, b))).rowcount > 0


def skip_pair(conn: Connection, a: str, b: str, now: datetime) -> None:
    conn.execute(update(t.identity_matches).where(_pair(a, b)).values(skipped_at=now))


def member_sides(conn: Connection, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What a reviewer sees of each member: the profile or eCom buyer, and its person."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    m, p, c = t.identity_members.c, t.persons.c, t.customers.c
    out: dict[str, dict[str, Any]] = {k: {"key": k} for k in wanted}
    person_of = dict(
        conn.execute(select(m.member_key, m.person_id).where(m.member_key.in_(wanted))).all()
    )
    persons = {
        r.id: dict(r._mapping)
        for r in conn.execute(
            select(
                p.id,
                p.name,
                p.tier,
                p.profiles,
                p.lifetime_value,
                p.purchases,
                p.last_purchase,
                p.ecom_purchases,
                p.instore_purchases,
            ).where(p.id.in_(sorted(set(person_of.values()))))
        )
    }
    ids = [k.removeprefix("customer:") for k in wanted if k.startswith("customer:")]
    profiles = {
        r.id: r
        for r in conn.execute(
            select(
                c.id,
                c.first_name,
                c.last_name,
                c.email,
                c.phone,
                c.mobile,
                c.physical_address_1,
                c.physical_city,
                c.physical_postcode,
                c.customer_code,
                c.date_of_birth,
            ).where(c.id.in_(ids))
        )
    }
    o = t.ecom_orders.c
    for key in wanted:
        side = out[key]
        kind, _, ident = key.partition(":")
        if kind == "customer" and ident in profiles:
            r = profiles[ident]
            name = " ".join(x for x in (r.first_name, r.last_name) if x)
            address = ", ".join(x for x in (r.physical_address_1, r.physical_city) if x)
            side.update(
                kind="profile",
                customer_id=ident,
                name=name,
                email=r.email,
                phone=r.mobile or r.phone,
                address=" ".join(x for x in (address, r.physical_postcode) if x),
                code=r.customer_code,
                birth_date=r.date_of_birth,
            )
        elif kind == "email":
            row = conn.execute(
                select(o.customer_name, o.phone, func.count().over().label("orders"))
                .where(func.lower(o.email) == ident)
                .order_by(o.placed_at.desc())
                .limit(1)
            ).first()
            side.update(
                kind="ecom_buyer",
                email=ident,
                name=row.customer_name if row else None,
                phone=row.phone if row else None,
                orders=int(row.orders) if row else 0,
            )
        person = persons.get(person_of.get(key, ""))
        if person is not None:
            side["person"] = person
    return out
