"""The tier program: the retailer's rules, exact boundaries, explanations, downgrades."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from greenloop.domain.purchases import Purchase
from greenloop.domain.tiers import (
    DEFAULT_PROGRAM,
    DowngradePolicy,
    Evaluation,
    Facts,
    TierState,
    decide,
    evaluate,
)

NOW = datetime(2026, 11, 1, 18, 0, tzinfo=UTC)


def buy(days_ago: int, value: str) -> Purchase:
    return Purchase(
        key=f"k{days_ago}{value}",
        kind="purchase",
        channel="instore",
        origin="xseries",
        sale_id="s",
        order_number=None,
        customer_id="c",
        email=None,
        occurred_at=NOW - timedelta(days=days_ago),
        status="CLOSED",
        counts=True,
        value=D(value),
    )


def tier_of(*purchases: Purchase, loyalty: bool = False) -> Evaluation:
    return evaluate(Facts(purchases, loyalty_enrolled=loyalty), DEFAULT_PROGRAM, NOW)


@pytest.mark.parametrize(
    ("values", "loyalty", "expected"),
    [
        (["1500.00"], False, "Evergreen"),
        (["1499.99"], False, "Bloom"),
        (["750.00"], False, "Bloom"),
        (["749.99"], False, "Sprout"),
        (["250.00"], False, "Sprout"),  # inclusive
        (["249.99"], False, "First Time Buyer"),
        (["249.99"], True, "Seed"),  # loyalty + a purchase beats First Time Buyer
        (["10", "10"], False, None),  # two purchases, not enrolled, under $250
        (["10", "10"], True, "Seed"),
        ([], True, None),  # enrolled but never bought
    ],
)
def test_the_retailers_program(values: list[str], loyalty: bool, expected: str | None) -> None:
    purchases = [buy(100 + i * 10, v) for i, v in enumerate(values)]
    assert tier_of(*purchases, loyalty=loyalty).tier == expected


def test_three_visits_in_30_days_is_sprout_and_same_day_is_one_visit() -> None:
    three = [buy(1, "10"), buy(10, "10"), buy(29, "10")]
    assert tier_of(*three).tier == "Sprout"
    assert "3 visits in the last 30 days" in tier_of(*three).reasons[0]
    same_day = [buy(1, "10"), buy(1, "10"), buy(29, "10")]
    assert tier_of(*same_day).tier is None
    too_old = [buy(1, "10"), buy(10, "10"), buy(31, "10")]
    assert tier_of(*too_old).tier is None


def test_reasons_and_what_it_takes_to_reach_the_next_tier() -> None:
    evaluation = tier_of(buy(50, "706.80"))
    assert evaluation.tier == "Sprout"
    assert evaluation.reasons == ["Sprout: lifetime value $706.80 (needs ≥ $250.00)"]
    assert evaluation.next_tier == "Bloom"
    assert evaluation.to_next == ["$43.20 more to Bloom"]
    assert evaluation.keep == ["Sprout holds for good on this rule (lifetime never drops)"]


def test_what_keeps_a_visit_based_tier() -> None:
    evaluation = evaluate(
        Facts([buy(2, "10"), buy(6, "10"), buy(8, "10")]),
        DEFAULT_PROGRAM,
        NOW,
        review_at=NOW + timedelta(days=25),
    )
    assert evaluation.tier == "Sprout"
    # On the review date (25 days on) the window starts 5 days ago: only the purchase
    # 2 days ago is still inside it.
    by = (NOW + timedelta(days=25)).date().isoformat()
    assert evaluation.keep == [f"2 more visits by {by} keeps Sprout"]
    assert evaluation.to_next == ["$720.00 more to Bloom"]


def test_top_tier_has_no_next() -> None:
    evaluation = tier_of(buy(5, "2000"))
    assert (evaluation.next_tier, evaluation.to_next) == (None, [])


def _state(tier: str | None, days_ago: int = 0, **kw: object) -> TierState:
    since = NOW - timedelta(days=days_ago)
    return TierState(tier, since, since + timedelta(days=90), **kw)  # type: ignore[arg-type]


def test_upgrades_apply_at_once() -> None:
    state = decide(_state("Sprout", 5), Evaluation("Evergreen"), DEFAULT_PROGRAM, NOW)
    assert (state.tier, state.reason) == ("Evergreen", "upgrade")
    assert state.review_at == NOW + timedelta(days=90)


def test_still_no_tier_keeps_since_when() -> None:
    before = _state(None, 40)
    state = decide(before, Evaluation(None), DEFAULT_PROGRAM, NOW)
    assert state == before  # not "no tier since today" at every analysis
    earned = decide(before, Evaluation("Seed"), DEFAULT_PROGRAM, NOW)
    assert (earned.tier, earned.since, earned.reason) == ("Seed", NOW, "upgrade")


def test_review_policy_waits_then_drops_one_tier() -> None:
    program = DEFAULT_PROGRAM
    early = decide(_state("Evergreen", 30), Evaluation(None), program, NOW)
    assert early.tier == "Evergreen"
    due = decide(_state("Evergreen", 90), Evaluation(None), program, NOW)
    assert (due.tier, due.reason) == ("Bloom", "downgrade at review")
    assert due.review_at == NOW + timedelta(days=90)


def test_grace_period_and_more_steps() -> None:
    program = replace(DEFAULT_PROGRAM, downgrade=DowngradePolicy("review", 90, 2, grace_days=10))
    in_grace = decide(_state("Evergreen", 95), Evaluation(None), program, NOW)
    assert in_grace.tier == "Evergreen"
    after = decide(_state("Evergreen", 101), Evaluation(None), program, NOW)
    assert after.tier == "Sprout"  # two steps down


@pytest.mark.parametrize(("mode", "expected"), [("never", "Bloom"), ("immediate", "Seed")])
def test_never_and_immediate(mode: str, expected: str) -> None:
    program = replace(DEFAULT_PROGRAM, downgrade=DowngradePolicy(mode))  # type: ignore[arg-type]
    assert decide(_state("Bloom", 1), Evaluation("Seed"), program, NOW).tier == expected


def test_kept_at_review_moves_the_next_review_on() -> None:
    state = decide(_state("Bloom", 90), Evaluation("Bloom"), DEFAULT_PROGRAM, NOW)
    assert state.tier == "Bloom"
    assert state.review_at == NOW + timedelta(days=90)
    assert state.since == NOW - timedelta(days=90)


def test_a_manual_lock_wins_until_it_expires() -> None:
    locked = _state("Bloom", 200, locked_tier="Bloom", locked_until=NOW + timedelta(days=1))
    assert decide(locked, Evaluation(None), DEFAULT_PROGRAM, NOW).tier == "Bloom"
    expired = replace(locked, locked_until=NOW - timedelta(seconds=1))
    assert decide(expired, Evaluation(None), DEFAULT_PROGRAM, NOW).tier == "Sprout"


def test_a_tier_the_program_no_longer_has_is_replaced_at_once() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    previous = TierState("Platinum", now - timedelta(days=5), now + timedelta(days=85))
    evaluation = Evaluation(tier="Seed")
    decided = decide(previous, evaluation, DEFAULT_PROGRAM, now)
    assert (decided.tier, decided.reason) == ("Seed", "the program changed")
