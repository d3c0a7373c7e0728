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
from typing import Literal

from greenloop.domain.purchases import Purchase

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
]

WindowKind = Literal["lifetime", "rolling", "calendar_year", "since_enrolment"]


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
        return {
            "lifetime": "lifetime",
            "rolling": f"in the last {self.days} days",
            "calendar_year": "this calendar year",
            "since_enrolment": "since joining the loyalty program",
        }[self.kind]


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
        for index, tier in enumerate(self.tiers):
            if tier.name == name:
                return index
        return len(self.tiers)


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
    """What the program reads about one person."""

    purchases: Sequence[Purchase]
    loyalty_enrolled: bool = False
    enrolled_at: datetime | None = None


@dataclass
class Evaluation:
    tier: str | None
    reasons: list[str] = field(default_factory=list)
    to_next: list[str] = field(default_factory=list)
    next_tier: str | None = None
    keep: list[str] = field(default_factory=list)


Measured = Decimal | int | bool
_Cache = dict[tuple[ConditionKind, Window, datetime], Measured]


def _measure(
    condition: Condition,
    facts: Facts,
    now: datetime,
    zone: tzinfo | None,
    cache: _Cache | None = None,
) -> Measured:
    if condition.kind == "loyalty":
        return facts.loyalty_enrolled
    key = (condition.kind, condition.window, now)
    if cache is not None and key in cache:
        return cache[key]
    start = condition.window.start(now, facts.enrolled_at, zone)
    # Counted purchases up to now (and from the window's start): the same rules as
    # person_metrics, computed directly because evaluation runs for every person daily.
    counted = [
        p
        for p in facts.purchases
        if p.counts
        and p.occurred_at is not None
        and p.occurred_at <= now
        and (start is None or p.occurred_at >= start)
    ]
    measured: Measured
    if condition.kind == "value":
        measured = sum((p.value for p in counted), Decimal(0))
    elif condition.kind == "visits":
        moments = [p.occurred_at for p in counted if p.kind == "purchase" and p.occurred_at]
        measured = len({(m.astimezone(zone) if zone is not None else m).date() for m in moments})
    else:
        measured = sum(1 for p in counted if p.kind == "purchase")
    if cache is not None:
        cache[key] = measured
    return measured


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


def _gap(
    condition: Condition, measured: Decimal | int | bool, tier: str, now: datetime
) -> str | None:
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
        by = (now + timedelta(days=condition.window.days or 0)).date().isoformat()
        days = condition.window.days
        return f"{count} more {noun}{plural} within {days} days for {tier} (e.g. by {by})"
    return f"{count} more {noun}{plural} for {tier}"


def _keep(
    condition: Condition,
    facts: Facts,
    tier: str,
    review_at: datetime,
    zone: tzinfo | None,
    cache: _Cache,
) -> str:
    """What keeps ``tier`` at the review, from this condition's point of view."""
    if condition.kind != "visits" and condition.window.kind != "rolling":
        if condition.kind == "loyalty":
            return f"{tier} holds while enrolled in loyalty"
        return f"{tier} holds for good on this rule ({condition.window.describe()} never drops)"
    # What will still be inside the window on the review date, then what is missing.
    measured = _measure(condition, facts, review_at, zone, cache)
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
    cache: _Cache = {}
    winner: Tier | None = None
    reasons: list[str] = []
    for tier in program.tiers:
        measured = [(c, _measure(c, facts, now, zone, cache)) for c in tier.conditions]
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
            _keep(c, facts, winner.name, review, zone, cache)
            for c in winner.conditions
            if _holds(c, _measure(c, facts, now, zone, cache))
        ]
    rank = program.rank(evaluation.tier)
    if rank > 0:
        above = program.tiers[rank - 1]
        evaluation.next_tier = above.name
        gaps = [
            _gap(c, _measure(c, facts, now, zone, cache), above.name, now) for c in above.conditions
        ]
        evaluation.to_next = [g for g in gaps if g]
    return evaluation


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
    if previous is None or previous.tier is None:
        return _entered(earned, now, policy, "first evaluation" if previous is None else "upgrade")
    if previous.tier not in {tier.name for tier in program.tiers}:
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
