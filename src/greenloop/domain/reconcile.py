"""eCom orders against X-Series sales: what matched, what is missing, what disagrees.

Matching is by ``source_id`` only (see :mod:`greenloop.domain.purchases`); everything else
here is a check on a match or a guess about a miss. Amounts: the export's ``order_total``
is net of loyalty redemptions, which X-Series books as a separate ``Loyalty`` payment, so
the order total is compared with the sale's non-Loyalty payments first and with
``total_price_incl`` only as a fallback (reference ECOM_ESERIES_EXPORT.md §5.2: 1,597 of
1,599 real orders agree the first way, about 75% the second). Times: the export is
minute-precise store-local time; ``sale_date`` is UTC and lands 0–1 minute later.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from greenloop.domain.purchases import OrderFact, SaleFact, payment_state

__all__ = ["ReconcileReport", "reconcile"]

_OFFLINE_METHODS = ("cash", "cheque", "check", "bank", "pay in store", "pay by")


@dataclass
class ReconcileReport:
    matched: int = 0
    csv_only: list[dict[str, Any]] = field(default_factory=list)
    xseries_only: list[dict[str, Any]] = field(default_factory=list)
    stale_hints: list[dict[str, Any]] = field(default_factory=list)
    amount_mismatches: list[dict[str, Any]] = field(default_factory=list)
    amount_matched_on_gross: list[dict[str, Any]] = field(default_factory=list)
    time_mismatches: list[dict[str, Any]] = field(default_factory=list)
    lag_seconds: dict[str, float | int | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "csv_only": self.csv_only,
            "xseries_only": self.xseries_only,
            "stale_hints": self.stale_hints,
            "amount_mismatches": self.amount_mismatches,
            "amount_matched_on_gross": self.amount_matched_on_gross,
            "time_mismatches": self.time_mismatches,
            "lag_seconds": self.lag_seconds,
        }


def _percentile(values: Sequence[float], fraction: float) -> float | None:
    if not values:
        return None
    index = min(len(values) - 1, max(0, round(fraction * (len(values) - 1))))
    return values[index]


def _miss_reason(
    order: OrderFact, integration_start: datetime | None, excluded: frozenset[str]
) -> str:
    state = payment_state(order.payment_status_code)
    method = (order.payment_method or "").lower()
    if order.order_number in excluded:
        return "excluded"
    if integration_start is not None and order.placed_at < integration_start:
        return "before_integration"
    if order.total == 0:
        return "zero_total"
    if state in ("cancelled", "refunded") and any(m in method for m in _OFFLINE_METHODS):
        return "test_order"
    return "not_yet_synced"


def reconcile(
    sales: Iterable[SaleFact],
    orders: Iterable[OrderFact],
    *,
    now: datetime,
    integration_start: datetime | None = None,
    amount_tolerance: Decimal = Decimal("0.02"),
    time_tolerance: timedelta = timedelta(minutes=5),
    excluded: frozenset[str] = frozenset(),
) -> ReconcileReport:
    report = ReconcileReport()
    twins: dict[str, SaleFact] = {}
    lags: list[float] = []
    for sale in sales:
        if not sale.is_ecom_source or sale.return_for:
            continue
        if sale.source_id:
            twins.setdefault(sale.source_id.strip(), sale)
        if sale.created_at and sale.sale_date:
            lags.append((sale.created_at - sale.sale_date).total_seconds())
    seen: set[str] = set()
    for order in orders:
        twin = twins.get(order.order_number)
        if twin is None:
            report.csv_only.append(
                {
                    "order_number": order.order_number,
                    "placed_at": order.placed_at.isoformat(),
                    "age_days": round((now - order.placed_at).total_seconds() / 86400, 1),
                    "total": str(order.total),
                    "payment_status_code": order.payment_status_code,
                    "reason": _miss_reason(order, integration_start, excluded),
                }
            )
            continue
        seen.add(order.order_number)
        report.matched += 1
        if order.xseries_order_id and order.xseries_order_id != twin.id:
            report.stale_hints.append(
                {
                    "order_number": order.order_number,
                    "hint": order.xseries_order_id,
                    "sale_id": twin.id,
                }
            )
        _check_amount(report, order, twin, amount_tolerance)
        if twin.sale_date is not None:
            drift = twin.sale_date - order.placed_at
            if abs(drift) > time_tolerance:
                report.time_mismatches.append(
                    {
                        "order_number": order.order_number,
                        "sale_id": twin.id,
                        "placed_at": order.placed_at.isoformat(),
                        "sale_date": twin.sale_date.isoformat(),
                        "difference_seconds": drift.total_seconds(),
                    }
                )
    for number, sale in twins.items():
        if number not in seen:
            report.xseries_only.append(
                {
                    "sale_id": sale.id,
                    "source_id": number,
                    "status": sale.status,
                    "sale_date": sale.sale_date.isoformat() if sale.sale_date else None,
                }
            )
    lags.sort()
    report.lag_seconds = {
        "count": len(lags),
        "p50": _percentile(lags, 0.5),
        "p95": _percentile(lags, 0.95),
        "max": lags[-1] if lags else None,
    }
    return report


def _check_amount(
    report: ReconcileReport, order: OrderFact, sale: SaleFact, tolerance: Decimal
) -> None:
    if not sale.payments and payment_state(order.payment_status_code) == "awaiting_payment":
        return  # unpaid: the sale has no payments yet, nothing to compare
    net = sale.non_loyalty_payments()
    if abs(net - order.total) <= tolerance:
        return
    entry = {
        "order_number": order.order_number,
        "sale_id": sale.id,
        "order_total": str(order.total),
        "sale_payments_excluding_loyalty": str(net),
        "sale_total_incl": str(sale.total_incl),
    }
    if abs(sale.total_incl - order.total) <= tolerance:
        report.amount_matched_on_gross.append(entry)
    else:
        report.amount_mismatches.append(entry)
