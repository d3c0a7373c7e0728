"""Which customer profiles move to which customer group: the push plan, as pure rules.

A customer holds exactly one group in X-Series (changelog 2020-04, "a customer may only
belong to one customer group"), and price books and promotions key on it. So the plan
is conservative: a profile moves only when the group it should be in differs from the
group it was last read in, and only out of a group GreenLoop manages. Everything else
is a skip with a reason, so a dry run can show exactly what would and would not happen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "NO_TIER",
    "GroupMove",
    "GroupSkip",
    "PlanInput",
    "ProfileState",
    "PushPlan",
    "TierSummary",
    "batches",
    "minimum_requests",
    "plan_moves",
    "wanted_group",
]

SkipReason = Literal["protected", "placeholder", "override", "deleted"]

# The summary key for customers whose person has no tier (they belong in the default
# group). The retailer's log calls this bucket "None".
NO_TIER = "None"


@dataclass(frozen=True)
class ProfileState:
    """One X-Series profile as last read from the API, with its person's tier."""

    customer_id: str
    person_id: str | None
    tier: str | None
    group_id: str | None
    deleted: bool = False
    # The profile's only email/phone is a placeholder: a shared account, not a person.
    placeholder_only: bool = False
    # A kept hand move (push.hand_moves = "keep"): the group staff chose.
    override_group_id: str | None = None


@dataclass(frozen=True)
class PlanInput:
    # Tier name → the id of its group (or a "new:<name>" key for a group not yet
    # created, so a dry run can still show the moves into it).
    tier_groups: Mapping[str, str]
    default_group_id: str
    # Ids of every group GreenLoop may move a customer out of: the tier groups, the
    # default group and any group the program lists as managed.
    managed_group_ids: frozenset[str]
    move_placeholder_profiles: bool = False


@dataclass(frozen=True)
class GroupMove:
    customer_id: str
    person_id: str | None
    tier: str | None
    from_group_id: str | None
    to_group_id: str


@dataclass(frozen=True)
class GroupSkip:
    customer_id: str
    person_id: str | None
    tier: str | None
    group_id: str | None
    wanted_group_id: str
    reason: SkipReason


@dataclass
class TierSummary:
    moves_in: int = 0
    moves_out: int = 0
    protected: int = 0
    placeholder: int = 0
    override: int = 0
    unchanged: int = 0
    customers: int = 0


@dataclass
class PushPlan:
    moves: list[GroupMove] = field(default_factory=list)
    skips: list[GroupSkip] = field(default_factory=list)
    unchanged: int = 0
    by_tier: dict[str, TierSummary] = field(default_factory=dict)
    # Moves dropped by a --limit, still to do on a later run.
    deferred: int = 0

    @property
    def customers(self) -> int:
        return len(self.moves) + len(self.skips) + self.unchanged

    def skipped(self, reason: SkipReason) -> list[GroupSkip]:
        return [s for s in self.skips if s.reason == reason]


def plan_moves(
    profiles: Iterable[ProfileState],
    rules: PlanInput,
    *,
    tier_order: Sequence[str] = (),
    limit: int | None = None,
) -> PushPlan:
    """The moves and skips for ``profiles``, in a stable order (tier rank, customer id).

    ``limit`` keeps the first N moves (highest tiers first) and counts the rest as
    deferred; skips and unchanged profiles are always reported in full.
    """
    plan = PushPlan()
    group_tier = {group: tier for tier, group in rules.tier_groups.items()}
    for profile in profiles:
        summary = plan.by_tier.setdefault(profile.tier or NO_TIER, TierSummary())
        if profile.deleted:
            # A profile merged or deleted by staff cannot be moved, and its person's other
            # profiles carry the tier; it is not counted as a customer.
            continue
        summary.customers += 1
        wanted = wanted_group(profile, rules)
        actual = profile.group_id or rules.default_group_id
        if actual == wanted:
            summary.unchanged += 1
            plan.unchanged += 1
            continue
        reason = _skip_reason(profile, actual, rules)
        if reason is not None:
            setattr(summary, reason, getattr(summary, reason) + 1)
            plan.skips.append(
                GroupSkip(
                    profile.customer_id,
                    profile.person_id,
                    profile.tier,
                    profile.group_id,
                    wanted,
                    reason,
                )
            )
            continue
        plan.moves.append(
            GroupMove(profile.customer_id, profile.person_id, profile.tier, actual, wanted)
        )
    rank = {name: index for index, name in enumerate(tier_order)}
    plan.moves.sort(key=lambda m: (rank.get(m.tier or NO_TIER, len(rank)), m.customer_id))
    plan.skips.sort(key=lambda s: (s.reason, s.customer_id))
    if limit is not None and len(plan.moves) > limit:
        plan.deferred = len(plan.moves) - limit
        del plan.moves[limit:]
    for move in plan.moves:
        plan.by_tier.setdefault(move.tier or NO_TIER, TierSummary()).moves_in += 1
        left = group_tier.get(move.from_group_id or "")
        if left is not None:
            plan.by_tier.setdefault(left, TierSummary()).moves_out += 1
    return plan


def wanted_group(profile: ProfileState, rules: PlanInput) -> str:
    """The group of the profile's tier (the default group without a tier)."""
    if profile.tier is None:
        return rules.default_group_id
    return rules.tier_groups.get(profile.tier, rules.default_group_id)


def _skip_reason(profile: ProfileState, actual: str, rules: PlanInput) -> SkipReason | None:
    if actual not in rules.managed_group_ids:
        return "protected"
    if profile.placeholder_only and not rules.move_placeholder_profiles:
        return "placeholder"
    if profile.override_group_id is not None and profile.override_group_id == actual:
        return "override"
    return None


def batches(moves: Sequence[GroupMove], size: int) -> list[tuple[str, list[GroupMove]]]:
    """Moves grouped by target group, each group cut into batches of at most ``size``."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    by_group: dict[str, list[GroupMove]] = {}
    for move in moves:
        by_group.setdefault(move.to_group_id, []).append(move)
    out: list[tuple[str, list[GroupMove]]] = []
    for group_id in sorted(by_group):
        group_moves = by_group[group_id]
        for start in range(0, len(group_moves), size):
            out.append((group_id, group_moves[start : start + size]))
    return out


def minimum_requests(moves: Sequence[GroupMove], size: int) -> int:
    """ceil(moves into a group ÷ batch size), summed over the groups."""
    counts: dict[str, int] = {}
    for move in moves:
        counts[move.to_group_id] = counts.get(move.to_group_id, 0) + 1
    return sum(-(-n // size) for n in counts.values())
