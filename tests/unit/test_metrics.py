"""Per-person metrics: exact Decimal sums, returns, same-day visits, windows, DST days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

from greenloop.domain.metrics import MetricRules, person_metrics
from greenloop.domain.purchases import Purchase

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
CHICAGO = ZoneInfo("America/Chicago")


def p(
    days_ago: float,
    value: str,
    *,
    channel: str = "instore",
    kind: str = "purchase",
    counts: bool = True,
    at: datetime | None = None,
) -> Purchase:
    return Purchase(
        key=f"sale:{days_ago}:{value}",
        kind=kind,
        channel=channel,
        origin="xseries",  # type: ignore[arg-type]
        sale_id="s",
        order_number=None,
        customer_id="c",
        email=None,
        occurred_at=at or NOW - timedelta(days=days_ago),
        status="CLOSED",
        counts=counts,
        value=D(value),
    )


def test_sums_are_exact_and_returns_subtract_without_being_purchases() -> None:
    m = person_metrics(
        [
            p(40, "100.10"),
            p(20, "34.725", channel="ecom"),
            p(10, "-20.00", kind="return"),
            p(5, "999", counts=False),
        ],
        NOW,
    )
    assert m.lifetime_value == D("114.825")  # 100.10 + 34.725 - 20.00
    assert m.purchases == 2
    assert m.returns_value == D("-20.00")
    assert m.ecom_value == D("34.725")
    assert m.instore_value == D("80.10")
    assert (m.ecom_purchases, m.instore_purchases) == (1, 1)
    assert m.average_order_value == D("57.41")  # 114.825 / 2 = 57.4125


def test_same_day_purchases_are_one_visit_unless_configured() -> None:
    morning = datetime(2026, 10, 30, 15, 0, tzinfo=UTC)
    evening = datetime(2026, 10, 30, 23, 0, tzinfo=UTC)
    purchases = [p(0, "10", at=morning), p(0, "12", at=evening), p(9, "5")]
    one = person_metrics(purchases, NOW, MetricRules(store_zone=CHICAGO))
    assert (one.purchases, one.visits) == (3, 2)
    each = person_metrics(
        purchases, NOW, MetricRules(store_zone=CHICAGO, same_day_is_one_visit=False)
    )
    assert each.visits == 3


def test_visit_days_are_store_local_across_dst() -> None:
    # 2026-11-01 04:30 UTC is still 31 October in Chicago (CDT, UTC-5) ...
    late_night = datetime(2026, 11, 1, 4, 30, tzinfo=UTC)
    # ... and 2026-10-31 17:00 UTC is also 31 October locally: one visit.
    afternoon = datetime(2026, 10, 31, 17, 0, tzinfo=UTC)
    local = person_metrics(
        [p(0, "1", at=late_night), p(0, "1", at=afternoon)], NOW, MetricRules(store_zone=CHICAGO)
    )
    assert local.visits == 1
    utc = person_metrics([p(0, "1", at=late_night), p(0, "1", at=afternoon)], NOW)
    assert utc.visits == 2


def test_windows_recency_and_cycle() -> None:
    purchases = [p(100, "50"), p(70, "50"), p(29, "50"), p(1, "50")]
    m = person_metrics(purchases, NOW, MetricRules(window_days=90, recent_days=30))
    assert m.window_value == D(150)
    assert m.visits_recent == 2
    assert m.days_since_last == 1
    assert m.average_cycle_days == D("33.00")  # 99 days over 3 gaps
    assert m.first_purchase == NOW - timedelta(days=100)


def test_window_start_is_inclusive() -> None:
    m = person_metrics([p(90, "250.00")], NOW, MetricRules(window_days=90))
    assert m.window_value == D("250.00")


def test_no_purchases() -> None:
    m = person_metrics([], NOW)
    assert (m.purchases, m.visits, m.lifetime_value) == (0, 0, D(0))
    assert m.average_order_value is None
    assert m.days_since_last is None
    assert m.average_cycle_days is None


def test_future_purchases_are_ignored_for_replay() -> None:
    m = person_metrics([p(-3, "10"), p(3, "5")], NOW)
    assert m.lifetime_value == D(5)
