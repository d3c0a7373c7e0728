"""The purchase-cycle risk rule and the tier replay (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from greenloop.domain.purchases import Purchase
from greenloop.domain.replay import Lock, daily_points, replay, with_lock
from greenloop.domain.risk import DEFAULT_STORE_CYCLE_DAYS, risk_status, store_cycle_days
from greenloop.domain.tiers import DEFAULT_PROGRAM, Facts, TierState, decide, evaluate

T0 = datetime(2026, 1, 10, 18, 0, tzinfo=UTC)


def buy(at: datetime, value: str) -> Purchase:
    return Purchase(
        key=f"sale:{at.isoformat()}",
        kind="purchase",
        channel="instore",
        origin="xseries",
        sale_id=at.isoformat(),
        order_number=None,
        customer_id="c1",
        email=None,
        occurred_at=at,
        status="CLOSED",
        counts=True,
        value=Decimal(value),
    )


def test_risk_follows_the_persons_own_cycle() -> None:
    cycle = Decimal(20)
    assert risk_status(None, 0, None, cycle) == "none"
    assert risk_status(20, 5, cycle, Decimal(90)) == "active"
    assert risk_status(21, 5, cycle, Decimal(90)) == "at_risk"
    assert risk_status(40, 5, cycle, Decimal(90)) == "at_risk"
    assert risk_status(41, 5, cycle, Decimal(90)) == "lapsed"


def test_too_few_visits_use_the_store_cycle() -> None:
    # Two visits give a "cycle" of one gap: too little to judge by; the store's is used.
    assert risk_status(50, 2, Decimal(10), Decimal(60)) == "active"
    assert risk_status(61, 2, Decimal(10), Decimal(60)) == "at_risk"
    assert risk_status(121, 1, None, Decimal(60)) == "lapsed"


def test_a_very_short_cycle_is_floored_at_a_week() -> None:
    assert risk_status(6, 10, Decimal(1), Decimal(60)) == "active"
    assert risk_status(8, 10, Decimal(1), Decimal(60)) == "at_risk"


def test_store_cycle_is_the_median_or_the_default() -> None:
    assert store_cycle_days([]) == DEFAULT_STORE_CYCLE_DAYS
    assert store_cycle_days([Decimal(10), Decimal(30), Decimal(20)]) == Decimal(20)


def test_daily_points_run_at_the_scheduled_time_then_the_moment_asked() -> None:
    points = daily_points(T0, T0 + timedelta(days=2, hours=1), time(2, 0, tzinfo=UTC))
    assert points == [
        datetime(2026, 1, 11, 2, 0, tzinfo=UTC),
        datetime(2026, 1, 12, 2, 0, tzinfo=UTC),
        T0 + timedelta(days=2, hours=1),
    ]


def test_replay_at_the_decision_moments_reproduces_the_decisions() -> None:
    purchases = [buy(T0, "300"), buy(T0 + timedelta(days=40), "500")]
    facts = Facts(purchases=purchases)
    moments = [T0 + timedelta(days=d, hours=8) for d in (1, 20, 41, 100)]
    # What a sequence of analyses would have recorded, decision by decision.
    state = None
    recorded = []
    for moment in moments:
        state = decide(state, evaluate(facts, DEFAULT_PROGRAM, moment), DEFAULT_PROGRAM, moment)
        recorded.append(state.tier)
    steps = replay(facts, DEFAULT_PROGRAM, moments)
    assert [s.state.tier for s in steps] == recorded == ["Sprout", "Sprout", "Bloom", "Bloom"]
    assert [s.changed for s in steps] == [True, False, True, False]


def test_replay_sees_only_purchases_made_by_each_point() -> None:
    facts = Facts(purchases=[buy(T0, "100"), buy(T0 + timedelta(days=10), "200")])
    steps = replay(facts, DEFAULT_PROGRAM, [T0 + timedelta(hours=1), T0 + timedelta(days=11)])
    assert [s.state.tier for s in steps] == ["First Time Buyer", "Sprout"]


def test_a_lock_in_force_overrides_the_rules_and_then_lapses() -> None:
    facts = Facts(purchases=[buy(T0, "2000")])
    lock = Lock("Seed", T0, T0 + timedelta(days=30))
    steps = replay(
        facts,
        DEFAULT_PROGRAM,
        [T0 + timedelta(days=1), T0 + timedelta(days=29), T0 + timedelta(days=31)],
        lock=lock,
    )
    assert [s.state.tier for s in steps] == ["Seed", "Seed", "Evergreen"]
    assert "locked by staff" in steps[0].state.reason


def test_with_lock_outside_its_dates_changes_nothing() -> None:
    state = TierState("Bloom", T0)
    lock = Lock("Seed", T0 + timedelta(days=5), T0 + timedelta(days=6))
    assert with_lock(state, lock, T0) is state
    assert with_lock(state, None, T0) is state


def test_the_model_overrules_the_cycle_only_for_people_it_expects_back() -> None:
    from greenloop.domain.risk import confirmed_by_model

    assert confirmed_by_model("at_risk", Decimal("0.9")) == "active"  # a regular, late
    assert confirmed_by_model("lapsed", Decimal("0.5")) == "active"
    assert confirmed_by_model("at_risk", Decimal("0.1")) == "at_risk"  # gone, the model agrees
    assert confirmed_by_model("lapsed", Decimal("0.49")) == "lapsed"
    assert confirmed_by_model("at_risk", None) == "at_risk"  # no model fitted
    assert confirmed_by_model("active", Decimal("0")) == "active"  # never raises a risk
    assert confirmed_by_model("at_risk", Decimal("0.9"), below=Decimal("1")) == "at_risk"
