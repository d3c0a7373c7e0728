"""What the dashboard pages and the JSON API show, as plain functions over a connection.

Every function returns JSON-ready values: money as strings (Decimal, never float),
datetimes as ISO 8601 in UTC. Routes parse input, call one of these and render.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Numeric, Select, cast, func, or_, select, union

from greenloop.analytics.lists import at_risk_condition, at_risk_row, at_risk_select
from greenloop.domain.identity import IdentityRules, normalise_email, normalise_phone
from greenloop.domain.tiers import Program
from greenloop.store import tables as t
from greenloop.web.dashboard.json_values import Page, iso, money
from greenloop.web.dashboard.queries_runs import analyze_run, daily_run, last_runs

__all__ = [
    "MAX_SEARCH_CHARS",
    "NO_TIER",
    "RISK_SORTS",
    "Page",
    "iso",
    "last_runs",
    "lookup",
    "money",
    "movements",
    "overview",
    "person_progress",
    "program_view",
    "risk_list",
    "risk_page",
    "search_persons",
    "tier_distribution",
]

NO_TIER = "(none)"
# Longer than any name, email, phone or id; SQLite refuses LIKE patterns past 50,000 bytes.
MAX_SEARCH_CHARS = 200


def _tier_order(program: Program, names: set[str]) -> list[str]:
    configured = [tier.name for tier in program.tiers]
    extra = sorted(n for n in names if n not in configured and n != NO_TIER)
    ordered = [n for n in configured if n in names] + extra
    return [*ordered, NO_TIER] if NO_TIER in names else ordered


# -- overview ---------------------------------------------------------------------------


def tier_counts(conn: Connection, program: Program) -> dict[str, int]:
    p = t.persons.c
    counts = {
        (tier or NO_TIER): n
        for tier, n in conn.execute(select(p.tier, func.count()).group_by(p.tier)).all()
    }
    return {name: counts.get(name, 0) for name in _tier_order(program, set(counts))}


def overview(conn: Connection, program: Program) -> dict[str, Any]:
    c = t.customers.c
    customers = conn.execute(
        select(func.count()).select_from(t.customers).where(c.deleted_at.is_(None))
    ).scalar_one()
    persons = conn.execute(select(func.count()).select_from(t.persons)).scalar_one()
    counts = tier_counts(conn, program)
    return {
        "customers": customers,
        "persons": persons,
        "persons_with_tier": sum(n for k, n in counts.items() if k != NO_TIER),
        "tiers": counts,
        "last_daily_run": daily_run(conn),
        "last_analysis": analyze_run(conn),
        "last_runs": last_runs(conn),
    }


def tier_distribution(conn: Connection, program: Program) -> dict[str, Any]:
    """Persons per tier per day, from the daily snapshots (a stacked-area series)."""
    s = t.tier_snapshots.c
    rows = conn.execute(select(s.day, s.tier, s.persons).order_by(s.day)).all()
    days = sorted({r.day for r in rows})
    index = {day: i for i, day in enumerate(days)}
    series: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    for r in rows:
        series[r.tier][index[r.day]] = r.persons
    order = _tier_order(program, set(series))
    return {"days": days, "tiers": [{"tier": n, "persons": series[n]} for n in order]}


def movements(
    conn: Connection, program: Program, since: datetime | None, until: datetime | None
) -> dict[str, Any]:
    """Tier changes in [since, until): counts per (from, to) pair and per kind."""
    h = t.tier_history.c
    query = select(h.from_tier, h.to_tier, h.change, func.count().label("n")).group_by(
        h.from_tier, h.to_tier, h.change
    )
    if since is not None:
        query = query.where(h.at >= since)
    if until is not None:
        query = query.where(h.at < until)
    pairs = []
    kinds: Counter[str] = Counter()
    for r in conn.execute(query):
        kinds[r.change] += r.n
        pairs.append({"from": r.from_tier, "to": r.to_tier, "change": r.change, "count": r.n})
    pairs.sort(key=lambda x: (program.rank(x["from"]), program.rank(x["to"]), x["change"]))
    return {
        "since": iso(since),
        "until": iso(until),
        "upgrades": kinds["upgrade"] + kinds["entered"],
        "downgrades": kinds["downgrade"] + kinds["left"],
        "by_change": dict(sorted(kinds.items())),
        "pairs": pairs,
    }


# -- customers ----------------------------------------------------------------------


def _matching_ids(text: str, rules: IdentityRules) -> Select[Any]:
    m, v, p = t.identity_members.c, t.identity_values.c, t.persons.c
    keys: list[tuple[str, str]] = [("code", text.lower())]
    email = normalise_email(text, rules)
    if email:
        keys.append(("email", email))
    phone = normalise_phone(text, rules)
    if phone:
        keys.append(("phone", phone))
    lowered = text.lower()
    by_value = (
        select(m.person_id)
        .join(t.identity_values, v.member_key == m.member_key)
        .where(or_(*((v.kind == kind) & (v.value == value) for kind, value in keys)))
    )
    by_profile = select(m.person_id).where(m.customer_id == text)
    by_person = select(p.id.label("person_id")).where(
        or_(
            p.id == text,
            # autoescape: a % or _ in the search is a character, not a wildcard.
            func.lower(p.name).contains(lowered, autoescape=True),
            func.lower(p.email).contains(lowered, autoescape=True),
            p.customer_code == text,
        )
    )
    return select(union(by_value, by_profile, by_person).subquery().c.person_id)


def _person_summary(r: Any) -> dict[str, Any]:
    return {
        "person_id": r.id,
        "name": r.name,
        "email": r.email,
        "phone": r.phone,
        "customer_code": r.customer_code,
        "profiles": r.profiles,
        "tier": r.tier,
        "lifetime_value": money(r.lifetime_value),
        "purchases": r.purchases,
        "last_purchase": iso(r.last_purchase),
        "risk": r.risk,
    }


def search_persons(
    conn: Connection, query: str, rules: IdentityRules, page: int, page_size: int
) -> Page:
    """Persons matching a name, email, phone (any format), code or id; most valuable first."""
    p = t.persons.c
    where = None
    text = query.replace("\x00", "").strip()  # PostgreSQL refuses NUL in any text
    if text:
        where = p.id.in_(_matching_ids(text, rules))
    base = select(func.count()).select_from(t.persons)
    total = conn.execute(base if where is None else base.where(where)).scalar_one()
    rows = select(
        p.id,
        p.name,
        p.email,
        p.phone,
        p.customer_code,
        p.profiles,
        p.tier,
        p.lifetime_value,
        p.purchases,
        p.last_purchase,
        p.risk,
    )
    if where is not None:
        rows = rows.where(where)
    rows = (
        rows.order_by(cast(p.lifetime_value, Numeric).desc(), p.id)  # text on SQLite
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return Page([_person_summary(r) for r in conn.execute(rows)], page, page_size, total)


def lookup(
    conn: Connection, query: str, rules: IdentityRules, limit: int
) -> tuple[Page, dict[str, dict[str, Any]]]:
    """The staff lookup: the first ``limit`` persons matching ``query`` (as
    :func:`search_persons`), and for each its stored tier reasons, the way to the next
    tier and what keeps the tier (what the analysis wrote; nothing recomputed)."""
    found = search_persons(conn, query, rules, 1, limit)
    p = t.persons.c
    ids = [row["person_id"] for row in found.data]
    progress: dict[str, dict[str, Any]] = {}
    if ids:
        for r in conn.execute(
            select(p.id, p.reasons, p.to_next, p.keep, p.review_at, p.drop_at_review).where(
                p.id.in_(ids)
            )
        ):
            progress[r.id] = {
                "reasons": r.reasons or [],
                "to_next": r.to_next or [],
                "keep": r.keep or [],
                "review_at": iso(r.review_at),
                "drop_at_review": bool(r.drop_at_review),
            }
    return found, progress


# -- at risk ----------------------------------------------------------------------------


def _risk_columns() -> dict[str, Any]:
    p = t.persons.c
    # Money is text on SQLite: cast so it sorts by amount, not by its first digit.
    return {
        "lifetime_value": cast(p.lifetime_value, Numeric),
        "p_alive": cast(p.p_alive, Numeric),
        "predicted_value_12m": cast(p.predicted_value_12m, Numeric),
        "average_cycle_days": cast(p.average_cycle_days, Numeric),
        "last_purchase": p.last_purchase,
        "review_at": p.review_at,
        "name": func.lower(p.name),
        "tier": p.tier,
        "risk": p.risk,
    }


RISK_SORTS = tuple(_risk_columns())


def _risk_query(sort: str, descending: bool) -> Select[Any]:
    key = _risk_columns()[sort]
    ordered = key.desc() if descending else key.asc()
    # Rows without the value go last either way; the id keeps pages stable.
    return at_risk_select().order_by(ordered.nulls_last(), t.persons.c.id)


def risk_page(conn: Connection, sort: str, descending: bool, page: int, page_size: int) -> Page:
    """One page of the at-risk list, sorted in the database."""
    total = conn.execute(
        select(func.count()).select_from(t.persons).where(at_risk_condition())
    ).scalar_one()
    query = _risk_query(sort, descending).offset((page - 1) * page_size).limit(page_size)
    return Page([at_risk_row(r) for r in conn.execute(query)], page, page_size, total)


def risk_list(conn: Connection, sort: str, descending: bool) -> list[dict[str, Any]]:
    """The whole at-risk list in one order (the CSV export)."""
    return [at_risk_row(r) for r in conn.execute(_risk_query(sort, descending))]


# -- program ----------------------------------------------------------------------------


def _condition(c: Any) -> dict[str, Any]:
    text = {
        "value": f"value ≥ ${c.at_least}" if c.at_least is not None else "value",
        "visits": f"visits ≥ {c.at_least}" if c.at_least is not None else "visits",
        "purchase_count": f"exactly {c.equals} purchase(s)"
        if c.equals is not None
        else f"purchases ≥ {c.at_least}",
        "loyalty": "enrolled in loyalty",
    }[c.kind]
    if c.kind != "loyalty":
        text = f"{text} ({c.window.describe()})"
    return {
        "kind": c.kind,
        "at_least": money(c.at_least),
        "equals": c.equals,
        "window": c.window.kind,
        "days": c.window.days,
        "text": text,
    }


def program_view(conn: Connection, program: Program) -> dict[str, Any]:
    counts = tier_counts(conn, program)
    policy = program.downgrade
    return {
        "tiers": [
            {
                "rank": rank,
                "name": tier.name,
                "group": tier.group,
                "combine": tier.combine,
                "conditions": [_condition(c) for c in tier.conditions],
                "persons": counts.get(tier.name, 0),
            }
            for rank, tier in enumerate(program.tiers, start=1)
        ],
        "no_tier_persons": counts.get(NO_TIER, 0),
        "downgrade": {
            "mode": policy.mode,
            "review_days": policy.review_days,
            "max_steps": policy.max_steps,
            "grace_days": policy.grace_days,
        },
    }


# -- the retailer's app -----------------------------------------------------------------


def person_progress(conn: Connection, customer_id: str) -> dict[str, Any] | None:
    """One customer's tier, the way up and what keeps it; no contact details."""
    m, p = t.identity_members.c, t.persons.c
    row = conn.execute(
        select(
            p.tier,
            p.tier_since,
            p.review_at,
            p.reasons,
            p.to_next,
            p.keep,
            p.lifetime_value,
            p.visits_30d,
            p.computed_at,
        )
        .join(t.identity_members, m.person_id == p.id)
        .where(m.customer_id == customer_id)
        .limit(1)
    ).first()
    if row is None:
        return None
    return {
        "customer_id": customer_id,
        "tier": row.tier,
        "tier_since": iso(row.tier_since),
        "review_at": iso(row.review_at),
        "reasons": row.reasons,
        "to_next": row.to_next,
        "keep": row.keep,
        "lifetime_value": money(row.lifetime_value),
        "visits_30d": row.visits_30d,
        "computed_at": iso(row.computed_at),
    }
