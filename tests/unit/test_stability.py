"""``stable_until``: a person's row computed anywhere in the span it gives is the same.

The property is checked against ``compute_person`` itself: a person's state is decided
at an earlier run, then the row at ``now`` is compared with the row at moments inside
the span (its very end minus a microsecond included), for many timelines, programs,
policies and locks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from greenloop.analytics.compute import Context, PersonResult, compute_person
from greenloop.analytics.facts import Facts, Profile
from greenloop.domain.identity import IdentityRules
from greenloop.domain.metrics import MetricRules
from greenloop.domain.purchases import ECOM, RETURN, Timeline
from greenloop.domain.replay import Lock
from greenloop.domain.stability import stable_until
from greenloop.domain.tiers import (
    DEFAULT_PROGRAM,
    Condition,
    DowngradePolicy,
    Program,
    Tier,
    TierState,
    Window,
    evaluate,
)
from greenloop.domain.tiers import Facts as TierFacts

ZONE = ZoneInfo("America/Chicago")
START = datetime(2026, 1, 1, tzinfo=UTC)
METRICS = MetricRules(store_zone=ZONE, recent_days=30, window_days=90)
YEARLY = Program(
    tiers=(
        Tier("Gold", "G", (Condition("value", Decimal(500), window=Window("calendar_year")),)),
        Tier(
            "Silver",
            "S",
            (
                Condition("purchase_count", Decimal(2), window=Window("rolling", 60)),
                Condition("value", Decimal(100), window=Window("rolling", 14)),
            ),
        ),
        Tier("Bronze", "B", (Condition("visits", Decimal(1)),)),
    ),
    downgrade=DowngradePolicy("review", review_days=30, grace_days=7),
    store_zone=ZONE,
)
PROGRAMS = (
    Program(DEFAULT_PROGRAM.tiers, DEFAULT_PROGRAM.downgrade, ZONE),
    YEARLY,
    Program(DEFAULT_PROGRAM.tiers, DowngradePolicy("review", review_days=20, max_steps=2), ZONE),
)
PROFILE = Profile("c1", None, "Ann Lee", "ann@example.com", (), True, False, None, None, None)
FACTS = Facts(profiles={"c1": PROFILE})

entries = st.lists(
    st.tuples(
        st.integers(0, 400 * 24 * 60),  # minutes after START
        st.integers(-5000, 60000),  # cents
        st.sampled_from([0, ECOM, RETURN, ECOM | RETURN]),
    ),
    max_size=12,
)


def _compute(
    program: Program,
    timeline: Timeline,
    now: datetime,
    previous: TierState | None,
    lock: Lock | None,
) -> PersonResult:
    ctx = Context(program, IdentityRules(), METRICS, now, Decimal(90))
    return compute_person("p1", ["customer:c1"], timeline, FACTS, ctx, previous, lock, {})


def _visible(result: PersonResult) -> dict[str, Any]:
    row = dict(result.row)
    del row["computed_at"], row["risk"]
    return row


@settings(max_examples=300, deadline=None)
@given(
    program=st.sampled_from(PROGRAMS),
    raw=entries,
    earlier=st.integers(0, 380 * 24 * 60),
    gap=st.integers(0, 60 * 24 * 60),
    locked=st.one_of(st.none(), st.tuples(st.integers(0, 400), st.integers(1, 60))),
    shares=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=4),
)
def test_the_row_holds_until_the_edge(
    program: Program,
    raw: list[tuple[int, int, int]],
    earlier: int,
    gap: int,
    locked: tuple[int, int] | None,
    shares: list[float],
) -> None:
    timeline = Timeline(
        (START + timedelta(minutes=m), Decimal(c) / 100, flags) for m, c, flags in raw
    )
    lock = None
    if locked is not None:
        since = START + timedelta(days=locked[0])
        lock = Lock(
            "Bloom" if program is not YEARLY else "Gold", since, since + timedelta(days=locked[1])
        )
    before = START + timedelta(minutes=earlier)
    previous = _compute(program, timeline, before, None, lock).state
    now = before + timedelta(minutes=gap)
    first = _compute(program, timeline, now, previous, lock)
    assert first.stable_until is None or first.stable_until >= now
    end = first.stable_until or now + timedelta(days=800)
    if end <= now:
        return
    span = end - now
    last = end - timedelta(microseconds=1)
    # (A share close to 1 times the span may round up to the span itself.)
    moments = [min(now + span * share, last) for share in shares] + [last]
    for moment in moments:
        later = _compute(program, timeline, moment, previous, lock)
        assert later.state == first.state, moment
        assert later.history is None
        assert first.history is None
        assert _visible(later) == _visible(first), moment


def test_the_way_to_a_rolling_window_tier_does_not_move_with_the_day() -> None:
    # A Seed member (loyalty, one purchase) is told "3 more visits within 30 days for
    # Sprout": no example date that moves each day, so the row holds past midnight.
    program = PROGRAMS[0]
    timeline = Timeline([(START, Decimal(20), 0)])
    before = START + timedelta(days=1)
    previous = _compute(program, timeline, before, None, None).state
    now = datetime(2026, 1, 10, 14, 0, tzinfo=UTC)
    result = _compute(program, timeline, now, previous, None)
    assert result.row["tier"] == "Seed"
    assert any(hint.endswith("within 30 days for Sprout") for hint in result.row["to_next"])
    assert result.stable_until is not None
    assert result.stable_until > datetime(2026, 1, 12, tzinfo=UTC)
    later = _compute(program, timeline, datetime(2026, 1, 12, 9, 0, tzinfo=UTC), previous, None)
    assert _visible(later) == _visible(result)


def test_a_purchase_leaving_the_window_ends_the_span() -> None:
    program = PROGRAMS[0]
    bought = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
    timeline = Timeline([(bought, Decimal(800), 0)])
    previous = _compute(program, timeline, bought + timedelta(days=1), None, None).state
    now = bought + timedelta(days=80)
    result = _compute(program, timeline, now, previous, None)
    assert result.row["tier"] == "Bloom"  # lifetime value, no dated hint above it
    # value_90d counts it until 90 days after the purchase; the review comes first.
    assert previous.review_at is not None
    assert result.stable_until == min(bought + timedelta(days=90), previous.review_at)


def test_a_changed_state_holds_for_no_time() -> None:
    program = PROGRAMS[0]
    timeline = Timeline([(START, Decimal(2000), 0)])
    result = _compute(program, timeline, START + timedelta(days=1), None, None)
    assert result.history is not None
    assert result.stable_until == START + timedelta(days=1)


def test_without_a_review_date_the_lines_that_keep_a_tier_move() -> None:
    program = Program(DEFAULT_PROGRAM.tiers, DowngradePolicy("never"), ZONE)
    timeline = Timeline([(START, Decimal(2000), 0)])
    previous = _compute(program, timeline, START + timedelta(days=1), None, None).state
    assert previous.review_at is None
    now = START + timedelta(days=3)
    evaluation = evaluate(TierFacts(timeline=timeline), program, now)
    assert evaluation.tier == "Evergreen"
    holds = stable_until(
        timeline, program, METRICS, previous, None, previous, evaluation, None, now
    )
    assert holds == now
