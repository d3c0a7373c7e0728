"""Per-person purchase metrics, from the merged purchases (pure, ``Decimal`` throughout).

Inputs are :class:`~greenloop.domain.purchases.Purchase` records that already say
whether they count. Returns subtract their value but are not purchases. Several
purchases on one store-local day are one visit for frequency (a setting), because a
customer who comes back for a forgotten item has not visited twice; value is always
summed in full. Windows are relative to ``now`` and inclusive of their start.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import NamedTuple

from greenloop.domain.purchases import ECOM, RETURN, Purchase, Timeline

__all__ = ["MetricRules", "PersonMetrics", "person_metrics", "timeline_metrics"]

ZERO = Decimal(0)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class MetricRules:
    # Days of local time: visits are counted per store-local calendar day.
    store_zone: tzinfo | None = None
    same_day_is_one_visit: bool = True
    recent_days: int = 30
    # The program's window for "value in window" (None: lifetime).
    window_days: int | None = None


class PersonMetrics(NamedTuple):
    # A NamedTuple, not a frozen dataclass: as immutable and typed, and built several
    # times as fast, once for every person a full analysis computes.
    lifetime_value: Decimal
    window_value: Decimal
    purchases: int  # counted purchases (not visits)
    window_purchases: int
    visits: int  # distinct purchase days when same_day_is_one_visit, else purchases
    visits_recent: int  # visits in the last ``recent_days``
    ecom_value: Decimal
    instore_value: Decimal
    ecom_purchases: int
    instore_purchases: int
    returns_value: Decimal  # ≤ 0: what returns took back
    first_purchase: datetime | None
    last_purchase: datetime | None
    average_order_value: Decimal | None
    days_since_last: int | None
    average_cycle_days: Decimal | None  # mean days between consecutive visits


def _local_day(moment: datetime, zone: tzinfo | None) -> date:
    return (moment.astimezone(zone) if zone is not None else moment).date()


@lru_cache(maxsize=64)
def _bounds(
    now: datetime, window_days: int | None, recent_days: int, zone: tzinfo | None
) -> tuple[datetime | None, date]:
    """The value window's first moment and the recent visits' first day (the same for
    everyone in a run)."""
    window_start = now - timedelta(days=window_days) if window_days else None
    return window_start, _local_day(now - timedelta(days=recent_days), zone)


def person_metrics(
    purchases: Iterable[Purchase], now: datetime, rules: MetricRules = MetricRules()
) -> PersonMetrics:
    return timeline_metrics(Timeline.of(purchases), now, rules)


def timeline_metrics(
    timeline: Timeline, now: datetime, rules: MetricRules = MetricRules()
) -> PersonMetrics:
    """:func:`person_metrics` of a person's :class:`Timeline`."""
    lifetime = ecom_value = instore_value = returns = ZERO
    ecom_purchases = 0
    high = timeline.upto(now)
    values, flags = timeline.values, timeline.flags
    if high < len(values):
        values, flags = values[:high], flags[:high]
    for value, flag in zip(values, flags, strict=True):
        lifetime += value
        if flag & ECOM:
            ecom_value += value
            if not flag & RETURN:
                ecom_purchases += 1
        else:
            instore_value += value
        if flag & RETURN:
            returns += value
    zone = rules.store_zone
    window_start, recent_start = _bounds(now, rules.window_days, rules.recent_days, zone)
    window = lifetime
    if window_start is not None:
        # Summed like the lifetime value (not as a difference of running sums) so the
        # stored figure is written the same way.
        window = sum(timeline.values[timeline.since(window_start) : high], ZERO)
    low, count = timeline.purchases_between(window_start, now)
    moments = timeline.purchase_at[:count]
    local_days = timeline.purchase_days(zone)[:count]
    days = sorted(set(local_days)) if rules.same_day_is_one_visit else local_days
    cycle: Decimal | None = None
    if len(days) >= 2:
        span = (days[-1] - days[0]).days
        cycle = (Decimal(span) / (len(days) - 1)).quantize(CENT, rounding=ROUND_HALF_UP)
    first, last = (moments[0], moments[-1]) if moments else (None, None)
    ecom_purchases = sum(1 for f in flags if f & ECOM and not f & RETURN)
    return PersonMetrics(
        lifetime_value=lifetime,
        window_value=window,
        purchases=count,
        window_purchases=max(0, count - low),
        visits=len(days),
        visits_recent=sum(1 for d in days if d >= recent_start),
        ecom_value=ecom_value,
        instore_value=instore_value,
        ecom_purchases=ecom_purchases,
        instore_purchases=count - ecom_purchases,
        returns_value=returns,
        first_purchase=first,
        last_purchase=last,
        average_order_value=(
            (lifetime / count).quantize(CENT, rounding=ROUND_HALF_UP) if count else None
        ),
        days_since_last=(now - last).days if last is not None else None,
        average_cycle_days=cycle,
    )
