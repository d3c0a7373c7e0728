"""From facts to persons: identity, metrics, tier decision, risk (no I/O here).

Both the full analysis and the one-person recompute call :func:`build_members` and
:func:`compute_person`, so the real-time path can never disagree with the nightly one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from greenloop.analytics.facts import Facts, Profile
from greenloop.domain.identity import (
    IdentityRules,
    Member,
    Placeholders,
    find_placeholders,
    normalise_email,
    normalise_phone,
)
from greenloop.domain.metrics import MetricRules, PersonMetrics, timeline_metrics
from greenloop.domain.purchases import Purchase, Timeline
from greenloop.domain.replay import Lock, with_lock
from greenloop.domain.risk import risk_status
from greenloop.domain.stability import stable_until
from greenloop.domain.tiers import Evaluation, Program, TierState, decide, evaluate, tier_at
from greenloop.domain.tiers import Facts as TierFacts

__all__ = [
    "Context",
    "HistoryEntry",
    "MemberIndex",
    "PersonResult",
    "build_members",
    "compute_person",
    "compute_persons",
    "member_of",
    "risk_of",
]


@dataclass(frozen=True)
class Context:
    program: Program
    identity: IdentityRules
    metrics: MetricRules
    now: datetime
    store_cycle_days: Decimal
    min_visits_for_own_cycle: int = 3


@dataclass
class MemberIndex:
    members: list[Member] = field(default_factory=list)
    placeholders: Placeholders = field(default_factory=Placeholders)
    # Normalised email of eCom buyers, to find a purchase's member.
    email_members: set[str] = field(default_factory=set)
    # Member key → the emails exactly as the orders wrote them (to find them by index).
    raw_emails: dict[str, set[str]] = field(default_factory=dict)
    # (email member, customer member, reason): an eCom buyer joined to the profile its
    # order's X-Series twin was sold to.
    twin_links: list[tuple[str, str, str]] = field(default_factory=list)


def build_members(
    facts: Facts, rules: IdentityRules, known: Placeholders | None = None
) -> MemberIndex:
    """Profiles and eCom buyer emails as identity members, with the placeholders.

    An order whose email is a placeholder becomes a member of its own (``order:<n>``):
    two strangers who both typed ``noemail@…`` at checkout stay two people.
    """
    members: list[Member] = []
    email_of, phone_of = normalise_email, normalise_phone
    for profile in facts.profiles.values():
        email = email_of(profile.email, rules)
        phones = tuple([p for x in profile.phones if (p := phone_of(x, rules))])
        code = (profile.code or "").strip().lower() or None
        members.append(
            Member(
                f"customer:{profile.id}",
                (email,) if email else (),
                phones,
                code,
                profile.first_name,
            )
        )
    by_email: dict[str, set[str]] = defaultdict(set)
    raw_of: dict[str, set[str]] = defaultdict(set)
    for raw, raw_phones in facts.order_contacts.items():
        email = normalise_email(raw, rules)
        if email:
            raw_of[email].add(raw)
            by_email[email].update(p for p in (normalise_phone(x, rules) for x in raw_phones) if p)
    candidates = [
        Member(f"email:{e}", (e,), tuple(sorted(p)), None, _order_first(facts, raw_of[e]))
        for e, p in by_email.items()
    ]
    rules_with_store = IdentityRules(
        **{
            **rules.__dict__,
            "placeholder_emails": (*rules.placeholder_emails, *facts.store_emails),
        }
    )
    placeholders = find_placeholders(members + candidates, rules_with_store)
    if known is not None:
        # A one-person recompute sees few profiles; the store-wide counts come from the
        # last full analysis.
        placeholders.emails.update(known.emails)
        placeholders.phones.update(known.phones)
    index = MemberIndex(placeholders=placeholders)
    for candidate in candidates:
        if candidate.emails[0] not in placeholders.emails:
            members.append(candidate)
            index.email_members.add(candidate.emails[0])
            index.raw_emails[candidate.key] = raw_of[candidate.emails[0]]
    for number, (raw, phone) in facts.order_email.items():
        email = normalise_email(raw, rules)
        if email is None or email in placeholders.emails:
            normalised = normalise_phone(phone, rules)
            members.append(Member(f"order:{number}", (), (normalised,) if normalised else ()))
    for candidate in candidates:
        if candidate.key not in index.raw_emails:
            continue
        for raw in sorted(index.raw_emails[candidate.key]):
            for customer_id in sorted(facts.order_twins.get(raw, ())):
                if customer_id in facts.profiles:
                    index.twin_links.append(
                        (candidate.key, f"customer:{customer_id}", f"eCom twin sale ({raw})")
                    )
    index.members = members
    return index


def _order_first(facts: Facts, raws: set[str]) -> str:
    """The first name on an eCom buyer's orders ("" when they disagree or are missing)."""
    names = {facts.order_names[r].split(" ", 1)[0] for r in raws if facts.order_names.get(r)}
    return names.pop() if len(names) == 1 else ""


def member_of(
    purchase: Purchase, facts: Facts, index: MemberIndex, rules: IdentityRules
) -> str | None:
    """The identity member a purchase belongs to (None: a walk-in sale)."""
    if purchase.customer_id is not None:
        if purchase.customer_id in facts.profiles:
            return f"customer:{purchase.customer_id}"
        return None
    email = normalise_email(purchase.email, rules)
    if email is not None and email in index.email_members:
        return f"email:{email}"
    if purchase.order_number is not None:
        return f"order:{purchase.order_number}"
    return None


@dataclass
class HistoryEntry:
    person_id: str
    at: datetime
    from_tier: str | None
    to_tier: str | None
    change: str
    reason: str
    reasons: list[str]


@dataclass
class PersonResult:
    row: dict[str, Any]
    state: TierState
    evaluation: Evaluation
    metrics: PersonMetrics
    history: HistoryEntry | None
    # The digest of the row's columns known before everyone is computed (see
    # analytics_repo.early_digest), when the full analysis took it.
    digest: bytes | None = None
    # Until when the row holds if only the clock moves (domain.stability; None: for good).
    stable_until: datetime | None = None


def _primary(profiles: Sequence[Profile], rules: IdentityRules) -> Profile | None:
    def rank(p: Profile) -> tuple[bool, bool, bool, float, str]:
        moment = p.updated_at or p.created_at
        stamp = moment.timestamp() if moment is not None else 0.0
        return (p.deleted, normalise_email(p.email, rules) is None, not p.phones, -stamp, p.id)

    if len(profiles) == 1:
        return profiles[0]
    return min(profiles, key=rank) if profiles else None


def _change(program: Program, old: str | None, new: str | None, reason: str) -> str:
    if reason.startswith("locked"):
        return "locked"
    if old is None:
        return "entered"
    if new is None:
        return "left"
    return "upgrade" if program.rank(new) < program.rank(old) else "downgrade"


def _windowed(program: Program, tier: str) -> bool:
    """Whether a tier's conditions can stop holding without any new purchase (a window
    that moves); lifetime thresholds, once met, hold for good."""
    return tier in program.moving_tiers


def risk_of(metrics: PersonMetrics, store_cycle: Decimal, min_visits: int) -> str:
    return risk_status(
        metrics.days_since_last, metrics.visits, metrics.average_cycle_days, store_cycle, min_visits
    )


def compute_person(
    person_id: str,
    member_keys: Iterable[str],
    purchases: Timeline,
    facts: Facts,
    ctx: Context,
    previous: TierState | None,
    lock: Lock | None,
    placeholder_emails: Mapping[str, str],
) -> PersonResult:
    keys = sorted(member_keys)
    known = facts.profiles
    profiles = [
        known[cid]
        for k in keys
        if k.startswith("customer:") and (cid := k.removeprefix("customer:")) in known
    ]
    loyalty = any(p.enable_loyalty and not p.deleted for p in profiles)
    metrics = timeline_metrics(purchases, ctx.now, ctx.metrics)
    tier_facts = TierFacts(loyalty_enrolled=loyalty, timeline=purchases)
    program = ctx.program
    # Most runs keep the previous state, so explain "what keeps it" at its review date
    # first time; only a change of review date needs a second evaluation.
    assumed_review = previous.review_at if previous is not None else None
    evaluation = evaluate(tier_facts, program, ctx.now, review_at=assumed_review)
    state = with_lock(decide(previous, evaluation, program, ctx.now), lock, ctx.now)
    default_review = ctx.now + timedelta(days=program.downgrade.review_days)
    keep_review = assumed_review
    if state.review_at is not None and state.review_at != (assumed_review or default_review):
        evaluation = evaluate(tier_facts, program, ctx.now, review_at=state.review_at)
        keep_review = state.review_at
    history: HistoryEntry | None = None
    old_tier = previous.tier if previous else None
    if (previous is None and state.tier is not None) or (
        previous is not None and previous.tier != state.tier
    ):
        history = HistoryEntry(
            person_id,
            ctx.now,
            old_tier,
            state.tier,
            _change(program, old_tier, state.tier, state.reason),
            state.reason,
            list(evaluation.reasons),
        )
    drop = False
    if (
        state.tier is not None
        and state.review_at is not None
        and state.locked_until is None
        and (state.tier != evaluation.tier or _windowed(program, state.tier))
    ):
        drop = program.rank(tier_at(tier_facts, program, state.review_at)) > program.rank(
            state.tier
        )
    primary = _primary(profiles, ctx.identity)
    email = None
    if primary is not None:
        email = normalise_email(primary.email, ctx.identity)
    elif keys and keys[0].startswith("email:"):
        email = keys[0].removeprefix("email:")
    if email in placeholder_emails:
        email = None
    phone = None
    if primary is not None:
        phone = next(
            (n for n in (normalise_phone(x, ctx.identity) for x in primary.phones) if n), None
        )
    reasons = list(evaluation.reasons)
    if state.tier != evaluation.tier:
        earned = evaluation.tier or "no tier"
        if state.locked_until is not None:
            reasons.insert(
                0, f"{state.tier or 'no tier'}: {state.reason} (the rules give {earned})"
            )
        elif state.review_at is not None:
            held = state.review_at.date().isoformat()
            reasons.insert(
                0, f"{state.tier} is kept until the review on {held} (the rules now give {earned})"
            )
    row: dict[str, Any] = {
        "id": person_id,
        "primary_customer_id": primary.id if primary else None,
        "customer_code": primary.code if primary else None,
        "name": primary.name if primary else None,
        "email": email,
        "phone": phone,
        "profiles": len(profiles),
        "profile_ids": [p.id for p in profiles],
        "loyalty_enrolled": loyalty,
        "lifetime_value": metrics.lifetime_value,
        "value_90d": metrics.window_value,
        "purchases": metrics.purchases,
        "purchases_90d": metrics.window_purchases,
        "visits": metrics.visits,
        "visits_30d": metrics.visits_recent,
        "ecom_value": metrics.ecom_value,
        "instore_value": metrics.instore_value,
        "ecom_purchases": metrics.ecom_purchases,
        "instore_purchases": metrics.instore_purchases,
        "returns_value": metrics.returns_value,
        "average_order_value": metrics.average_order_value,
        "first_purchase": metrics.first_purchase,
        "last_purchase": metrics.last_purchase,
        "average_cycle_days": metrics.average_cycle_days,
        "earned_tier": evaluation.tier,
        "tier": state.tier,
        "tier_since": state.since,
        "review_at": state.review_at,
        "reasons": reasons,
        "to_next": evaluation.to_next,
        "keep": evaluation.keep,
        "risk": risk_of(metrics, ctx.store_cycle_days, ctx.min_visits_for_own_cycle),
        "drop_at_review": drop,
        "p_alive": None,
        "expected_purchases_90d": None,
        "predicted_value_12m": None,
        "computed_at": ctx.now,
    }
    holds = stable_until(
        purchases, program, ctx.metrics, previous, lock, state, evaluation, keep_review, ctx.now
    )
    return PersonResult(row, state, evaluation, metrics, history, stable_until=holds)


def compute_persons(
    clusters: Sequence[Sequence[str]],
    assignment: Mapping[str, str],
    by_person: Mapping[str, Sequence[Purchase]],
    facts: Facts,
    ctx: Context,
    states: Mapping[str, TierState],
    locks: Mapping[str, Lock],
    index: MemberIndex,
) -> list[PersonResult]:
    """:func:`compute_person` for each cluster, under its assigned person id."""
    results = []
    for members in clusters:
        pid = assignment[members[0]]
        results.append(
            compute_person(
                pid,
                members,
                Timeline.of(by_person.get(pid, ())),
                facts,
                ctx,
                states.get(pid),
                locks.get(pid),
                index.placeholders.emails,
            )
        )
    return results
