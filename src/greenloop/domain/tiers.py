"""The tier program: declarative rules, evaluation with reasons, and the downgrade policy.

A program is an ordered list of tiers, highest first; the first tier whose conditions
hold wins. A condition measures value or visits over a window, loyalty enrolment, or the
purchase count. Evaluation explains itself: the rule that fired with its numbers, what
it takes to reach the next tier, and what keeps the current one. Upgrades apply at once;
downgrades follow the policy (never, immediately, or at a review date, a limited number
of tiers at a time, after an optional grace period). A manual override locks a person
to a tier until a date.

The default program is the retailer's own (seed document "Automated Daily Customer Tier
Sync"), read as documented in the README: thresholds are inclusive, "3 purchases/month"
means 3 visits in the last 30 days, Seed means enrolled in loyalty with at least one
purchase, First Time Buyer means exactly one purchase.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from functools import cached_property
from typing import Literal

from greenloop.domain.purchases import Purchase, Timeline

__all__ = [
    "DEFAULT_PROGRAM",
    "Condition",
    "DowngradePolicy",
    "Evaluation",
    "Facts",
    "Program",
    "Tier",
    "TierState",
    "Window",
    "decide",
    "evaluate",
    "tier_at",
]

WindowKind = Literal["lifetime", "rolling", "calendar_year", "since_enrolment"]
_WINDOW_WORDS = {
    "lifetime": "lifetime",
    "calendar_year": "this calendar year",
    "since_enrolment": "since joining the loyalty program",
}


@dataclass(frozen=True)
class Window:
    kind: WindowKind = "lifetime"
    days: int | None = None  # for "rolling"

    def start(
        self, now: datetime, enrolled_at: datetime | None, zone: tzinfo | None
    ) -> datetime | None:
        if self.kind == "rolling":
            return now - timedelta(days=self.days or 0)
        if self.kind == "calendar_year":
            local = now.astimezone(zone) if zone else now
            return local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        if self.kind == "since_enrolment":
            return enrolled_at
        return None

    def describe(self) -> str:
        if self.kind == "rolling":
            return f"in the last {self.days} days"
        return _WINDOW_WORDS[self.kind]


ConditionKind = Literal["value", "visits", "loyalty", "purchase_count"]


@dataclass(frozen=True)
class Condition:
    kind: ConditionKind
    at_least: Decimal | None = None
    equals: int | None = None
    window: Window = Window()


@dataclass(frozen=True)
class Tier:
    name: str
    group: str
    conditions: tuple[Condition, ...]
    combine: Literal["any", "all"] = "any"


@dataclass(frozen=True)
class DowngradePolicy:
    mode: Literal["never", "immediate", "review"] = "review"
    review_days: int = 90
    max_steps: int = 1
    grace_days: int = 0


@dataclass(frozen=True)
class Program:
    tiers: tuple[Tier, ...]
    downgrade: DowngradePolicy = DowngradePolicy()
    store_zone: tzinfo | None = None

    def rank(self, name: str | None) -> int:
        """0 for the top tier; len(tiers) for "no tier"."""
        return self._ranks.get(name, len(self.tiers))

    @cached_property
    def _ranks(self) -> dict[str | None, int]:
        ranks: dict[str | None, int] = {}
        for index, tier in enumerate(self.tiers):
            ranks.setdefault(tier.name, index)
        return ranks

    @cached_property
    def moving_tiers(self) -> frozenset[str]:
        """Tiers whose conditions can stop holding without any new purchase (a window
        that moves); lifetime thresholds, once met, hold for good."""
        return frozenset(
            t.name
            for t in self.tiers
            if any(c.window.kind in ("rolling", "calendar_year") for c in t.conditions)
        )


def _value(amount: str) -> Condition:
    return Condition("value", at_least=Decimal(amount))


DEFAULT_PROGRAM = Program(
    tiers=(
        Tier("Evergreen", "GreenHaus Crew - Evergreen", (_value("1500"),)),
        Tier("Bloom", "GreenHaus Crew - Bloom", (_value("750"),)),
        Tier(
            "Sprout",
            "GreenHaus Crew - Sprout",
            (_value("250"), Condition("visits", at_least=Decimal(3), window=Window("rolling", 30))),
        ),
        Tier(
            "Seed",
            "GreenHaus Crew - Seed",
            (Condition("loyalty"), Condition("purchase_count", at_least=Decimal(1))),
            combine="all",
        ),
        Tier("First Time Buyer", "First Time Buyer", (Condition("purchase_count", equals=1),)),
    ),
)


@dataclass(frozen=True)
class Facts:
    """What the program reads about one person: purchases, or their :class:`Timeline`
    (built here when not given)."""

    purchases: Sequence[Purchase] = ()
    loyalty_enrolled: bool = False
    enrolled_at: datetime | None = None
    timeline: Timeline | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.timeline is None:
            object.__setattr__(self, "timeline", Timeline.of(self.purchases))


@dataclass
class Evaluation:
    tier: str | None
    reasons: list[str] = field(default_factory=list)
    to_next: list[str] = field(default_factory=list)
    next_tier: str | None = None
    keep: list[str] = field(default_factory=list)


Measured = Decimal | int | bool


def _measure(condition: Condition, facts: Facts, now: datetime, zone: tzinfo | None) -> Measured:
    if condition.kind == "loyalty":
        return facts.loyalty_enrolled
    timeline = facts.timeline
    assert timeline is not None  # set by Facts.__post_init__
    window = condition.window
    # Counted purchases (and returns, for value) from the window's start up to now: the
    # same rules as person_metrics, by binary search on the sorted timeline.
    if window.kind == "lifetime":
        start = None
    elif window.kind == "rolling":
        start = now - timedelta(days=window.days or 0)
    else:
        start = window.start(now, facts.enrolled_at, zone)
    if condition.kind == "value":
        return timeline.value_between(start, now)
    low, high = timeline.purchases_between(start, now)
    if high <= low:
        return 0
    if condition.kind == "visits":
        return len(set(timeline.purchase_days(zone)[low:high]))
    return high - low


def _holds(condition: Condition, measured: Measured) -> bool:
    if condition.kind == "loyalty":
        return bool(measured)
    if condition.equals is not None:
        return measured == condition.equals
    return condition.at_least is not None and Decimal(measured) >= condition.at_least


def _money(amount: Decimal) -> str:
    return f"${amount.quantize(Decimal('0.01')):,}"


def _explain(condition: Condition, measured: Decimal | int | bool) -> str:
    window = condition.window.describe()
    if condition.kind == "loyalty":
        return "enrolled in loyalty" if measured else "not enrolled in loyalty"
    if condition.kind == "value":
        target = _money(condition.at_least or Decimal(0))
        return f"{window} value {_money(Decimal(measured))} (needs ≥ {target})"
    noun = "visits" if condition.kind == "visits" else "purchases"
    need = f"= {condition.equals}" if condition.equals is not None else f"≥ {condition.at_least}"
    return f"{measured} {noun} {window} (needs {need})"


def _gap(condition: Condition, measured: Decimal | int | bool, tier: str) -> str | None:
    if condition.kind == "loyalty":
        return None if measured else f"join the loyalty program for {tier}"
    if condition.at_least is None:
        return None
    missing = condition.at_least - Decimal(measured)
    if missing <= 0:
        return None
    if condition.kind == "value":
        return f"{_money(missing)} more to {tier}"
    noun = "visit" if condition.kind == "visits" else "purchase"
    count = int(missing)
    plural = "" if count == 1 else "s"
    if condition.window.kind == "rolling":
        # No example date ("by <today + N days>"): it would restate "within N days" and
        # move every day, rewriting every such person's row at every daily run.
        return f"{count} more {noun}{plural} within {condition.window.days} days for {tier}"
    return f"{count} more {noun}{plural} for {tier}"


def _keep(
    condition: Condition,
    facts: Facts,
    tier: str,
    review_at: datetime,
    zone: tzinfo | None,
) -> str:
    """What keeps ``tier`` at the review, from this condition's point of view."""
    if condition.kind != "visits" and condition.window.kind != "rolling":
        if condition.kind == "loyalty":
            return f"{tier} holds while enrolled in loyalty"
        return f"{tier} holds for good on this rule ({condition.window.describe()} never drops)"
    # What will still be inside the window on the review date, then what is missing.
    measured = _measure(condition, facts, review_at, zone)
    missing = (condition.at_least or Decimal(0)) - Decimal(measured)
    by = review_at.date().isoformat()
    if missing <= 0:
        return f"{tier} is secured on this rule through the review on {by}"
    if condition.kind == "value":
        return f"{_money(missing)} more by {by} keeps {tier}"
    count = int(missing)
    noun = "visit" if condition.kind == "visits" else "purchase"
    return f"{count} more {noun}{'' if count == 1 else 's'} by {by} keeps {tier}"


def evaluate(
    facts: Facts, program: Program, now: datetime, review_at: datetime | None = None
) -> Evaluation:
    """The tier the rules give today, with the reasons, the way to the next tier and
    what keeps this one at ``review_at`` (default: one review period from now)."""
    zone = program.store_zone
    winner: Tier | None = None
    reasons: list[str] = []
    # Every condition the explanations need is measured on the way down; by identity,
    # which is enough within one call. Tiers share measures (three lifetime-value
    # thresholds read one lifetime value), so each (kind, window) is measured once.
    measured_now: dict[int, Measured] = {}
    shared: dict[tuple[str, Window], Measured] = {}
    for tier in program.tiers:
        measured = []
        for c in tier.conditions:
            key = (c.kind, c.window)
            m = shared.get(key)
            if m is None:
                m = shared[key] = _measure(c, facts, now, zone)
            measured.append((c, m))
            measured_now[id(c)] = m
        results = [_holds(c, m) for c, m in measured]
        ok = all(results) if tier.combine == "all" else any(results)
        if ok:
            winner = tier
            fired = [_explain(c, m) for (c, m), r in zip(measured, results, strict=True) if r]
            reasons = [f"{tier.name}: " + "; ".join(fired)]
            break
    evaluation = Evaluation(tier=winner.name if winner else None, reasons=reasons)
    if winner is None:
        evaluation.reasons = ["no tier's conditions hold"]
    else:
        review = review_at or now + timedelta(days=program.downgrade.review_days)
        evaluation.keep = [
            _keep(c, facts, winner.name, review, zone)
            for c in winner.conditions
            if _holds(c, measured_now[id(c)])
        ]
    rank = program.rank(evaluation.tier)
    if rank > 0:
        above = program.tiers[rank - 1]
        evaluation.next_tier = above.name
        gaps = [
            _gap(c, measured_now[id(c)], above.name)
            if id(c) in measured_now
            else _gap(c, _measure(c, facts, now, zone), above.name)
            for c in above.conditions
        ]
        evaluation.to_next = [g for g in gaps if g]
    return evaluation


def tier_at(facts: Facts, program: Program, now: datetime) -> str | None:
    """The tier the rules give at ``now``: :func:`evaluate`'s tier, without the
    explanations."""
    zone = program.store_zone
    for tier in program.tiers:
        results = (_holds(c, _measure(c, facts, now, zone)) for c in tier.conditions)
        if all(results) if tier.combine == "all" else any(results):
            return tier.name
    return None


@dataclass(frozen=True)
class TierState:
    """A person's tier as GreenLoop last decided it."""

    tier: str | None
    since: datetime
    review_at: datetime | None = None
    locked_tier: str | None = None
    locked_until: datetime | None = None
    reason: str = ""


def decide(
    previous: TierState | None, evaluation: Evaluation, program: Program, now: datetime
) -> TierState:
    """Apply upgrades at once and downgrades by the policy; manual locks win."""
    policy = program.downgrade
    if previous is not None and previous.locked_until is not None and now < previous.locked_until:
        return previous
    earned = evaluation.tier
    if previous is not None and previous.tier is None and earned is None:
        return previous  # still no tier: since when is kept, as for any tier that holds
    if previous is None or previous.tier is None:
        return _entered(earned, now, policy, "first evaluation" if previous is None else "upgrade")
    if previous.tier not in program._ranks:
        # The program no longer has this tier: nothing to protect, take what is earned.
        return _entered(earned, now, policy, "the program changed")
    old, new = program.rank(previous.tier), program.rank(earned)
    if new < old:
        return _entered(earned, now, policy, "upgrade")
    if new == old:
        if policy.mode == "review" and previous.review_at and now >= previous.review_at:
            # Kept at review: the next review is one period on.
            return TierState(
                previous.tier,
                previous.since,
                now + timedelta(days=policy.review_days),
                reason="kept at review",
            )
        return previous
    # The rules say lower.
    if policy.mode == "never":
        return previous
    if policy.mode == "immediate":
        return _entered(earned, now, policy, "downgrade")
    due = previous.review_at or previous.since + timedelta(days=policy.review_days)
    if now < due + timedelta(days=policy.grace_days):
        return previous
    target_rank = min(new, old + policy.max_steps)
    target = program.tiers[target_rank].name if target_rank < len(program.tiers) else None
    return _entered(target, now, policy, "downgrade at review")


def _entered(tier: str | None, now: datetime, policy: DowngradePolicy, reason: str) -> TierState:
    review = now + timedelta(days=policy.review_days) if policy.mode == "review" else None
    return TierState(tier, now, review, reason=reason)
