"""What the push plan reads from the store: profiles with their tier, groups, overrides.

Every read here is of the local copy of X-Series, so it is only as fresh as the last
sync; a push refreshes customers and groups (see `refresh`) just before it reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select

from greenloop.domain.group_plan import PlanInput, ProfileState, wanted_group
from greenloop.domain.tiers import Program
from greenloop.store import tables as t

__all__ = [
    "DEFAULT_GROUP_CODE",
    "GroupDirectory",
    "HandMove",
    "find_hand_moves",
    "last_pushed_groups",
    "load_groups",
    "load_profiles",
    "missing_tier_groups",
    "plan_input",
    "record_overrides",
]

# The default "All Customers" group carries this code in the API examples (reference §6).
DEFAULT_GROUP_CODE = "1111111111"
NEW_GROUP = "new:"


@dataclass(frozen=True)
class GroupDirectory:
    by_id: dict[str, str]  # id → name (live groups)
    by_name: dict[str, str]  # casefolded name → id (the oldest group of that name)
    default_id: str | None

    def name_of(self, group_id: str | None) -> str:
        if group_id is None:
            return "(none)"
        if group_id.startswith(NEW_GROUP):
            return group_id[len(NEW_GROUP) :]
        return self.by_id.get(group_id, f"(unknown group {group_id})")

    def find(self, name: str) -> str | None:
        return self.by_name.get(name.strip().casefold())


def load_groups(conn: Connection, default_name: str) -> GroupDirectory:
    g = t.customer_groups.c
    rows = conn.execute(
        select(g.id, g.name, g.group_id)
        .where(g.deleted_at.is_(None))
        .order_by(g.created_at.is_(None), g.created_at, g.id)
    ).all()
    by_id = {r.id: r.name for r in rows}
    by_name: dict[str, str] = {}
    for r in rows:
        by_name.setdefault(r.name.strip().casefold(), r.id)
    default_id = next((r.id for r in rows if r.group_id == DEFAULT_GROUP_CODE), None)
    if default_id is None:
        default_id = by_name.get(default_name.strip().casefold())
    return GroupDirectory(by_id, by_name, default_id)


def missing_tier_groups(program: Program, groups: GroupDirectory) -> list[str]:
    """Group names the program uses that X-Series does not have (yet)."""
    seen: set[str] = set()
    out = []
    for tier in program.tiers:
        key = tier.group.strip().casefold()
        if groups.find(tier.group) is None and key not in seen:
            seen.add(key)
            out.append(tier.group)
    return out


def plan_input(
    program: Program,
    groups: GroupDirectory,
    *,
    managed_names: Sequence[str],
    move_placeholder_profiles: bool,
) -> PlanInput:
    tier_groups = {
        tier.name: groups.find(tier.group) or NEW_GROUP + tier.group for tier in program.tiers
    }
    assert groups.default_id is not None  # checked by the caller, with a message
    managed = {groups.default_id, *tier_groups.values()}
    managed.update(i for i in (groups.find(n) for n in managed_names) if i is not None)
    return PlanInput(
        tier_groups=tier_groups,
        default_group_id=groups.default_id,
        managed_group_ids=frozenset(managed),
        move_placeholder_profiles=move_placeholder_profiles,
    )


def load_profiles(
    conn: Connection, *, customer_ids: Iterable[str] | None = None
) -> list[ProfileState]:
    """Every profile (or those listed) with its person's tier, placeholder flag, override."""
    c = t.customers.c
    m = t.identity_members.c
    p = t.persons.c
    query = (
        select(c.id, c.customer_group_id, c.deleted_at, m.person_id, p.tier)
        .select_from(
            t.customers.outerjoin(t.identity_members, m.customer_id == c.id).outerjoin(
                t.persons, p.id == m.person_id
            )
        )
        .order_by(c.id)
    )
    wanted = None if customer_ids is None else sorted(set(customer_ids))
    if wanted is not None:
        query = query.where(c.id.in_(wanted))
    rows = conn.execute(query).all()
    placeholder_only = _placeholder_only(conn, wanted)
    overrides = _live_overrides(conn, {r.id: r.tier for r in rows}, wanted)
    return [
        ProfileState(
            customer_id=r.id,
            person_id=r.person_id,
            tier=r.tier,
            group_id=r.customer_group_id,
            deleted=r.deleted_at is not None,
            placeholder_only=r.id in placeholder_only,
            override_group_id=overrides.get(r.id),
        )
        for r in rows
    ]


def _placeholder_only(conn: Connection, customer_ids: list[str] | None) -> set[str]:
    """Profiles that have an email or phone, every one of them a placeholder."""
    v = t.identity_values.c
    ph = t.placeholders.c
    bad = {(r.kind, r.value) for r in conn.execute(select(ph.kind, ph.value))}
    if not bad:
        return set()
    query = select(v.member_key, v.kind, v.value).where(v.kind.in_(("email", "phone")))
    if customer_ids is not None:
        query = query.where(v.member_key.in_([f"customer:{i}" for i in customer_ids]))
    else:
        query = query.where(v.member_key.like("customer:%"))
    real: defaultdict[str, bool] = defaultdict(bool)
    for row in conn.execute(query):
        real[row.member_key] |= (row.kind, row.value) not in bad
    return {key.removeprefix("customer:") for key, has_real in real.items() if not has_real}


def _live_overrides(
    conn: Connection, tiers: dict[str, str | None], customer_ids: list[str] | None
) -> dict[str, str]:
    """Kept hand moves whose person still has the tier they had when the move was seen."""
    o = t.group_overrides.c
    query = select(o.customer_id, o.group_id, o.tier)
    if customer_ids is not None:
        query = query.where(o.customer_id.in_(customer_ids))
    out = {}
    for row in conn.execute(query):
        if row.customer_id in tiers and tiers[row.customer_id] == row.tier:
            out[row.customer_id] = row.group_id
    return out


def last_pushed_groups(
    conn: Connection, customer_ids: Iterable[str] | None = None
) -> dict[str, str]:
    """The group GreenLoop last confirmed moving each customer into."""
    pm = t.push_moves.c
    latest = (
        select(pm.customer_id, func.max(pm.id).label("id"))
        .where(pm.status == "moved")
        .group_by(pm.customer_id)
    )
    if customer_ids is not None:
        latest = latest.where(pm.customer_id.in_(sorted(set(customer_ids))))
    sub = latest.subquery()
    rows = conn.execute(select(pm.customer_id, pm.to_group_id).join(sub, sub.c.id == pm.id)).all()
    return {r.customer_id: r.to_group_id for r in rows}


@dataclass(frozen=True)
class HandMove:
    customer_id: str
    person_id: str | None
    tier: str | None
    pushed_group_id: str
    group_id: str | None


def find_hand_moves(
    profiles: Sequence[ProfileState], pushed: dict[str, str], rules: PlanInput
) -> list[HandMove]:
    """Profiles GreenLoop put in a group that are now, by someone else's hand, elsewhere.

    Only moves between managed groups count: a move into a protected group (Staff) is
    always respected and reported as protected by the plan.
    """
    out = []
    for profile in profiles:
        was = pushed.get(profile.customer_id)
        now = profile.group_id or rules.default_group_id
        if (
            was is None
            or profile.deleted
            or now == was
            or now not in rules.managed_group_ids
            or profile.override_group_id == now
            or now == wanted_group(profile, rules)
        ):
            continue
        out.append(HandMove(profile.customer_id, profile.person_id, profile.tier, was, now))
    return out


def record_overrides(conn: Connection, moves: Sequence[HandMove], now: datetime) -> None:
    o = t.group_overrides
    ids = [m.customer_id for m in moves]
    for start in range(0, len(ids), 500):
        conn.execute(delete(o).where(o.c.customer_id.in_(ids[start : start + 500])))
    if moves:
        conn.execute(
            insert(o),
            [
                {
                    "customer_id": m.customer_id,
                    "group_id": m.group_id,
                    "tier": m.tier,
                    "detected_at": now,
                    "note": "moved by hand after GreenLoop's push; kept (push.hand_moves)",
                }
                for m in moves
            ],
        )
