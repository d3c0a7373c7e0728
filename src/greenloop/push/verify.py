"""`tiers verify`: the groups customers are in, read from the API, against what GreenLoop
expects, with each mismatch listed and a guess at why. Also the nightly drift report.

What is expected of a profile: its tier's group; but a protected group (Staff) and a
placeholder account keep the group they have, and a kept hand move keeps the group
staff chose. Anything else out of place is a mismatch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from greenloop.domain.group_plan import PlanInput, ProfileState, wanted_group
from greenloop.domain.tiers import Program
from greenloop.errors import ConfigError
from greenloop.push.refresh import GROUPS_AND_CUSTOMERS, Refresh
from greenloop.push.state import (
    GroupDirectory,
    last_pushed_groups,
    load_groups,
    load_profiles,
    plan_input,
)
from greenloop.store import tables as t

__all__ = ["Mismatch", "VerifyReport", "expected_group", "verify_tiers"]

_OPEN = ("pending", "sending", "sent")
_FAILED = ("failed", "not_taken", "not_sent", "not_applied")


@dataclass(frozen=True)
class Mismatch:
    customer_id: str
    person_id: str | None
    tier: str | None
    group: str
    expected_group: str
    reason: str


@dataclass
class VerifyReport:
    checked_at: datetime
    customers: int = 0
    groups: list[dict[str, Any]] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)
    hand_moves_policy: str = "keep"
    requests: int = 0

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def as_json(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at.isoformat(),
            "customers": self.customers,
            "mismatch_count": len(self.mismatches),
            "reasons": dict(Counter(m.reason for m in self.mismatches)),
            "groups": self.groups,
            "mismatches": [m.__dict__ for m in self.mismatches],
            "hand_moves_policy": self.hand_moves_policy,
            "requests": self.requests,
        }


def expected_group(profile: ProfileState, rules: PlanInput) -> str:
    actual = profile.group_id or rules.default_group_id
    if actual not in rules.managed_group_ids:
        return actual
    if profile.placeholder_only and not rules.move_placeholder_profiles:
        return actual
    if profile.override_group_id is not None:
        return profile.override_group_id
    return wanted_group(profile, rules)


def verify_tiers(
    engine: Engine,
    refresh: Refresh | None,
    program: Program,
    *,
    default_group: str,
    managed_groups: tuple[str, ...] = (),
    move_placeholder_profiles: bool = False,
    hand_moves: str = "keep",
    clock: Callable[[], datetime] | None = None,
) -> VerifyReport:
    """Refresh groups and customers (when a ``refresh`` is given), then compare."""
    now = clock or (lambda: datetime.now(UTC))
    report = VerifyReport(checked_at=now(), hand_moves_policy=hand_moves)
    if refresh is not None:
        report.requests = refresh(GROUPS_AND_CUSTOMERS)
    with engine.connect() as conn:
        groups = load_groups(conn, default_group)
        if groups.default_id is None:
            raise ConfigError(
                f"no default customer group named {default_group!r} (or coded 1111111111)",
                hint="Set push.default_group to Lightspeed's default customer group.",
            )
        rules = plan_input(
            program,
            groups,
            managed_names=managed_groups,
            move_placeholder_profiles=move_placeholder_profiles,
        )
        profiles = load_profiles(conn)
        pushed = last_pushed_groups(conn)
        last_status = _last_status(conn)
        last_push = _last_push_start(conn)
        gone = _deleted_since(conn, last_push)
    live = [p for p in profiles if not p.deleted]
    report.customers = len(live)
    expected: Counter[str] = Counter()
    actual: Counter[str] = Counter()
    merged_persons = {p.person_id for p in profiles if p.customer_id in gone and p.person_id}
    for profile in live:
        have = profile.group_id or rules.default_group_id
        want = expected_group(profile, rules)
        actual[have] += 1
        expected[want] += 1
        if have != want:
            if profile.person_id in merged_persons:
                reason = "merged"
            else:
                reason = _guess(profile, have, pushed, last_status)
            report.mismatches.append(_mismatch(profile, groups, have, want, reason))
    live_persons = _live_persons(live)
    for profile in profiles:
        # A profile GreenLoop put in a group that staff deleted or merged away since the
        # last push: the group's count in Lightspeed dropped by one.
        was = pushed.get(profile.customer_id)
        if profile.customer_id in gone and was is not None:
            reason = "merged" if profile.person_id in live_persons else "deleted"
            report.mismatches.append(_mismatch(profile, groups, "(deleted)", was, reason))
    for group_id in sorted(set(expected) | set(actual), key=groups.name_of):
        report.groups.append(
            {
                "group": groups.name_of(group_id),
                "expected": expected[group_id],
                "actual": actual[group_id],
                "difference": actual[group_id] - expected[group_id],
            }
        )
    return report


def _mismatch(
    profile: ProfileState, groups: GroupDirectory, have: str, want: str, reason: str
) -> Mismatch:
    return Mismatch(
        profile.customer_id,
        profile.person_id,
        profile.tier,
        groups.name_of(have) if have != "(deleted)" else have,
        groups.name_of(want),
        reason,
    )


def _guess(
    profile: ProfileState, have: str, pushed: dict[str, str], last_status: dict[str, str]
) -> str:
    status = last_status.get(profile.customer_id)
    was = pushed.get(profile.customer_id)
    if was is not None and was != have and status == "moved":
        return "moved by staff"
    if status in _OPEN:
        return "push in progress or interrupted"
    if status in _FAILED:
        return f"last push {status.replace('_', ' ')}"
    return "pending push"


def _live_persons(live: list[ProfileState]) -> set[str]:
    return {p.person_id for p in live if p.person_id}


def _deleted_since(conn: Connection, since: datetime | None) -> set[str]:
    if since is None:
        return set()
    c = t.customers.c
    return set(conn.execute(select(c.id).where(c.deleted_at > since)).scalars())


def _last_status(conn: Connection) -> dict[str, str]:
    pm = t.push_moves.c
    latest = (
        select(pm.customer_id, func.max(pm.id).label("id"))
        .where(pm.status.notin_(("planned", "protected", "placeholder", "override")))
        .group_by(pm.customer_id)
        .subquery()
    )
    rows = conn.execute(select(pm.customer_id, pm.status).join(latest, latest.c.id == pm.id))
    return {r.customer_id: r.status for r in rows}


def _last_push_start(conn: Connection) -> datetime | None:
    r = t.push_runs.c
    value = conn.execute(
        select(func.max(r.started_at)).where(r.dry_run.is_(False), r.outcome != "running")
    ).scalar()
    return value if isinstance(value, datetime) else None
