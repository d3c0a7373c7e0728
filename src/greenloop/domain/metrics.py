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

from greenloop.domain.purchases import Purchase

__all__ = ["MetricRules", "PersonMetrics", "person_metrics"]

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


@dataclass(frozen=True)
class PersonMetrics:
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


def person_metrics(
    purchases: Iterable[Purchase], now: datetime, rules: MetricRules = MetricRules()
) -> PersonMetrics:
    lifetime = window = ecom_value = instore_value = returns = ZERO
    counted: list[Purchase] = []
    window_start = now - timedelta(days=rules.window_days) if rules.window_days else None
    for purchase in purchases:
        if not purchase.counts or purchase.occurred_at is None or purchase.occurred_at > now:
            continue
        lifetime += purchase.value
        if window_start is None or purchase.occurred_at >= window_start:
            window += purchase.value
        if purchase.channel == "ecom":
            ecom_value += purchase.value
        else:
            instore_value += purchase.value
        if purchase.kind == "return":
            returns += purchase.value
        else:
            counted.append(purchase)
    counted.sort(key=lambda p: p.occurred_at or now)
    moments = [p.occurred_at for p in counted if p.occurred_at is not None]
    if rules.same_day_is_one_visit:
        days = sorted({_local_day(m, rules.store_zone) for m in moments})
    else:
        days = [_local_day(m, rules.store_zone) for m in moments]
    recent_start = _local_day(now - timedelta(days=rules.recent_days), rules.store_zone)
    cycle: Decimal | None = None
    if len(days) >= 2:
        span = (days[-1] - days[0]).days
        cycle = (Decimal(span) / (len(days) - 1)).quantize(CENT, rounding=ROUND_HALF_UP)
    first, last = (moments[0], moments[-1]) if moments else (None, None)
    return PersonMetrics(
        lifetime_value=lifetime,
        window_value=window,
        purchases=len(counted),
        window_purchases=sum(1 for m in moments if window_start is None or m >= window_start),
        visits=len(days),
        visits_recent=sum(1 for d in days if d >= recent_start),
        ecom_value=ecom_value,
        instore_value=instore_value,
        ecom_purchases=sum(1 for p in counted if p.channel == "ecom"),
        instore_purchases=sum(1 for p in counted if p.channel == "instore"),
        returns_value=returns,
        first_purchase=first,
        last_purchase=last,
        average_order_value=(
            (lifetime / len(counted)).quantize(CENT, rounding=ROUND_HALF_UP) if counted else None
        ),
        days_since_last=(now - last).days if last is not None else None,
        average_cycle_days=cycle,
    )
