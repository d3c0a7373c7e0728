"""The plan-building phase of a push: the groups the program needs, then who moves where.

Everything here reads the store (fresh from the run's refresh) and writes only the run
log and kept hand moves; nothing is sent to Lightspeed but the creation of a missing
tier group, which goes through the ``create_group`` the run passes in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from greenloop.domain.group_plan import NO_TIER, PushPlan, minimum_requests, plan_moves
from greenloop.domain.tiers import Program
from greenloop.errors import ConfigError
from greenloop.push import runlog
from greenloop.push.report import PushOptions, PushReport
from greenloop.push.state import (
    GroupDirectory,
    find_hand_moves,
    last_pushed_groups,
    load_groups,
    load_profiles,
    missing_tier_groups,
    plan_input,
    record_overrides,
)

__all__ = ["build_plan", "tier_groups"]


def tier_groups(
    engine: Engine,
    program: Program,
    options: PushOptions,
    report: PushReport,
    create_group: Callable[[str], None],
) -> GroupDirectory:
    """The live groups, with every tier's group present (created unless a dry run).

    :class:`ConfigError` when there is no default group, or a tier's group is missing
    and ``push.create_missing_groups`` is off: nobody is moved then.
    """
    with engine.connect() as conn:
        groups = load_groups(conn, options.default_group)
    report.groups = groups
    if groups.default_id is None:
        raise ConfigError(
            f"no default customer group: none has the code 1111111111 or is named "
            f"{options.default_group!r}",
            hint="Set push.default_group to the name of Lightspeed's default customer "
            "group (Customers → Groups), then run `greenloop sync`.",
        )
    missing = missing_tier_groups(program, groups)
    if not missing:
        return groups
    if options.dry_run:
        report.missing_groups = missing
        return groups
    if not options.create_missing_groups:
        raise ConfigError(
            f"the program's groups {', '.join(map(repr, missing))} do not exist in Lightspeed",
            hint="Create them under Customers → Groups, or set push.create_missing_groups.",
        )
    for name in missing:
        create_group(name)
    with engine.connect() as conn:
        groups = load_groups(conn, options.default_group)
    report.groups = groups
    return groups


def build_plan(
    engine: Engine,
    program: Program,
    options: PushOptions,
    report: PushReport,
    groups: GroupDirectory,
    *,
    scope: list[str] | None,
    now: Callable[[], datetime],
) -> PushPlan:
    """Plan the moves of the profiles in ``scope`` (all when None) and log the plan.

    A hand move (staff put a customer in another group since the last push) is kept as
    an override under ``hand_moves = "keep"``, so the plan leaves that customer alone.
    """
    rules = plan_input(
        program,
        groups,
        managed_names=options.managed_groups,
        move_placeholder_profiles=options.move_placeholder_profiles,
    )
    report.tier_groups = {
        tier: groups.name_of(group_id) for tier, group_id in rules.tier_groups.items()
    }
    report.tier_groups[NO_TIER] = groups.name_of(rules.default_group_id)
    with engine.connect() as conn:
        profiles = load_profiles(conn, customer_ids=scope)
        pushed = last_pushed_groups(conn, scope)
    report.hand_moves = find_hand_moves(profiles, pushed, rules)
    if report.hand_moves and options.hand_moves == "keep":
        if not options.dry_run:
            with engine.begin() as conn:
                record_overrides(conn, report.hand_moves, now())
        kept = {h.customer_id: h.group_id for h in report.hand_moves}
        profiles = [
            p
            if p.customer_id not in kept
            else type(p)(**{**p.__dict__, "override_group_id": kept[p.customer_id]})
            for p in profiles
        ]
    plan = plan_moves(profiles, rules, tier_order=report.tier_order, limit=options.limit)
    report.plan = plan
    report.minimum_move_requests = minimum_requests(plan.moves, options.batch_size)
    with engine.begin() as conn:
        runlog.record_plan(
            conn, report.run_id, plan.moves, plan.skips, dry_run=options.dry_run, now=now()
        )
    return plan
