"""One person, shown in full: ``greenloop customers show`` and the dashboard's person page.

Finding: a person id, a customer id, a customer code, an email or a phone in any format
(normalised the way identity does), else a name. Showing: profiles and why they are
linked, purchases from both channels (a twin once, with both ids), metrics, tier with
its reasons, history, predictions. With ``as_of`` the tier is replayed from the stored
facts at the moments GreenLoop decided it (see :mod:`greenloop.domain.replay`).
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select

from greenloop.analytics.facts import load_scoped
from greenloop.analytics.options import AnalyzeOptions
from greenloop.domain.identity import normalise_email, normalise_phone
from greenloop.domain.metrics import person_metrics
from greenloop.domain.purchases import Purchase
from greenloop.domain.replay import Lock, daily_points, replay
from greenloop.domain.tiers import Facts as TierFacts
from greenloop.errors import NotFound
from greenloop.store import analytics_repo as repo
from greenloop.store import tables as t

__all__ = ["find_person", "person_detail"]


def find_person(conn: Connection, query: str, options: AnalyzeOptions) -> str:
    """The one person ``query`` names; NotFound when none or several match."""
    text = query.strip()
    if not text:
        raise NotFound("empty search")
    m, v, p = t.identity_members.c, t.identity_values.c, t.persons.c
    if conn.execute(select(p.id).where(p.id == text)).first():
        return text
    found: set[str] = set()
    found.update(conn.execute(select(m.person_id).where(m.customer_id == text)).scalars().all())
    keys: list[tuple[str, str]] = [("code", text.lower())]
    email = normalise_email(text, options.identity)
    if email:
        keys.append(("email", email))
    phone = normalise_phone(text, options.identity)
    if phone:
        keys.append(("phone", phone))
    for kind, value in keys:
        found.update(
            conn.execute(
                select(m.person_id)
                .join(t.identity_values, v.member_key == m.member_key)
                .where(v.kind == kind, v.value == value)
            )
            .scalars()
            .all()
        )
    if not found:
        pattern = f"%{text.lower()}%"
        found.update(
            conn.execute(
                select(p.id).where(or_(func.lower(p.name).like(pattern), p.customer_code == text))
            )
            .scalars()
            .all()
        )
    if not found:
        raise NotFound(f"no customer matches '{text}'")
    if len(found) > 1:
        names = conn.execute(select(p.id, p.name).where(p.id.in_(sorted(found))).limit(10)).all()
        listing = ", ".join(f"{row.id} ({row.name})" for row in names)
        raise NotFound(
            f"'{text}' matches {len(found)} persons: {listing}",
            hint="Use one of the person ids, or a more exact email or phone.",
        )
    return found.pop()


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _purchase(p: Purchase) -> dict[str, Any]:
    return {
        "key": p.key,
        "kind": p.kind,
        "occurred_at": p.occurred_at.isoformat() if p.occurred_at else None,
        "channel": p.channel,
        "origin": p.origin,
        "sale_id": p.sale_id,
        "order_number": p.order_number,
        "status": p.status,
        "counts": p.counts,
        "value": str(p.value),
        "flags": list(p.flags),
    }


def _replay_points(
    conn: Connection, person_id: str, first: datetime, as_of: datetime
) -> list[datetime]:
    r = t.analyze_runs.c
    moments = (
        conn.execute(
            select(r.as_of)
            .where(
                r.as_of <= as_of,
                r.outcome == "ok",
                or_(r.scope == "all", r.person_id == person_id),
            )
            .order_by(r.as_of)
        )
        .scalars()
        .all()
    )
    if moments:
        points = sorted(set(moments))
        if points[-1] < as_of:
            points.append(as_of)
        return points
    return daily_points(first, as_of, time(2, 0, tzinfo=first.tzinfo))


def person_detail(
    engine: Engine, options: AnalyzeOptions, query: str, *, as_of: datetime | None = None
) -> dict[str, Any]:
    with engine.connect() as conn:
        pid = find_person(conn, query, options)
        row = repo.load_person_rows(conn, [pid])[pid]
        members, customers, emails = repo.person_scope(conn, [pid])
        orders = {k.removeprefix("order:") for k in members if k.startswith("order:")}
        facts = load_scoped(conn, options.counting, customers, emails, orders)
        lk = t.identity_links.c
        links = conn.execute(
            select(lk.a, lk.b, lk.reason).where(lk.person_id == pid).order_by(lk.id)
        ).all()
        h = t.tier_history.c
        history = conn.execute(
            select(h.at, h.from_tier, h.to_tier, h.change, h.reason, h.reasons)
            .where(h.person_id == pid)
            .order_by(h.at, h.id)
        ).all()
        lock = repo.load_locks(conn, [pid]).get(pid)
        groups = dict(conn.execute(select(t.customer_groups.c.id, t.customer_groups.c.name)).all())
        points: list[datetime] = []
        purchases = sorted(facts.purchases, key=lambda p: (p.occurred_at is None, p.occurred_at))
        if as_of is not None:
            first = next((p.occurred_at for p in purchases if p.occurred_at), as_of)
            points = _replay_points(conn, pid, min(first, as_of), as_of)
    loyalty = any(prof.enable_loyalty and not prof.deleted for prof in facts.profiles.values())
    detail: dict[str, Any] = {
        "person_id": pid,
        "name": row["name"],
        "email": row["email"],
        "phone": row["phone"],
        "customer_code": row["customer_code"],
        "profiles": [
            {
                "id": prof.id,
                "name": prof.name,
                "email": prof.email,
                "phones": list(prof.phones),
                "customer_code": prof.code,
                "group": groups.get(prof.group_id or "", prof.group_id),
                "loyalty": prof.enable_loyalty,
                "deleted": prof.deleted,
                "primary": prof.id == row["primary_customer_id"],
            }
            for prof in sorted(facts.profiles.values(), key=lambda x: x.id)
        ],
        "ecom_buyers": sorted(k.removeprefix("email:") for k in members if k.startswith("email:")),
        "links": [{"a": a, "b": b, "reason": reason} for a, b, reason in links],
        "purchases": [_purchase(p) for p in purchases],
        "purchase_count": row["purchases"],
        "visits": row["visits"],
        "visits_30d": row["visits_30d"],
        "lifetime_value": _money(row["lifetime_value"]),
        "value_90d": _money(row["value_90d"]),
        "ecom_value": _money(row["ecom_value"]),
        "instore_value": _money(row["instore_value"]),
        "ecom_purchases": row["ecom_purchases"],
        "instore_purchases": row["instore_purchases"],
        "returns_value": _money(row["returns_value"]),
        "average_order_value": _money(row["average_order_value"]),
        "first_purchase": row["first_purchase"].isoformat() if row["first_purchase"] else None,
        "last_purchase": row["last_purchase"].isoformat() if row["last_purchase"] else None,
        "average_cycle_days": _money(row["average_cycle_days"]),
        "loyalty_enrolled": loyalty,
        "tier": row["tier"],
        "earned_tier": row["earned_tier"],
        "tier_since": row["tier_since"].isoformat() if row["tier_since"] else None,
        "review_at": row["review_at"].isoformat() if row["review_at"] else None,
        "reasons": row["reasons"],
        "to_next": row["to_next"],
        "keep": row["keep"],
        "risk": row["risk"],
        "drop_at_review": row["drop_at_review"],
        "predictions": {
            "p_alive": _money(row["p_alive"]),
            "expected_purchases_90d": _money(row["expected_purchases_90d"]),
            "predicted_value_12m": _money(row["predicted_value_12m"]),
        },
        "lock": None
        if lock is None
        else {"tier": lock.tier, "until": lock.until.isoformat(), "since": lock.since.isoformat()},
        "history": [
            {
                "at": at.isoformat(),
                "from": old,
                "to": new,
                "change": change,
                "reason": reason,
                "reasons": reasons,
            }
            for at, old, new, change, reason, reasons in history
        ],
        "computed_at": row["computed_at"].isoformat(),
    }
    if as_of is not None:
        detail["as_of"] = _replayed(facts.purchases, loyalty, options, as_of, points, history, lock)
    return detail


def _replayed(
    purchases: list[Purchase],
    loyalty: bool,
    options: AnalyzeOptions,
    as_of: datetime,
    points: list[datetime],
    history: Any,
    lock: Lock | None,
) -> dict[str, Any]:
    facts = TierFacts(purchases=purchases, loyalty_enrolled=loyalty)
    steps = replay(facts, options.program, points, lock=lock)
    final = steps[-1]
    metrics = person_metrics(purchases, as_of, options.metrics)
    recorded = [entry for entry in history if entry[0] <= as_of]
    recorded_tier = recorded[-1][2] if recorded else None
    return {
        "at": as_of.isoformat(),
        "tier": final.state.tier,
        "reasons": final.evaluation.reasons,
        "to_next": final.evaluation.to_next,
        "lifetime_value": str(metrics.lifetime_value),
        "purchase_count": metrics.purchases,
        "visits": metrics.visits,
        "recorded_tier": recorded_tier,
        "matches_history": recorded_tier == final.state.tier if recorded else None,
        "changes": [
            {"at": s.at.isoformat(), "tier": s.state.tier, "reason": s.state.reason}
            for s in steps
            if s.changed and (s.state.tier is not None or s is not steps[0])
        ],
        "points": len(points),
    }
