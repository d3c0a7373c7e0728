"""The figures that need every sale and every eCom order: revenue and purchases per
month by channel (Overview) and the eCom reconciliation (Sync health).

Both come from the same merge the analysis uses (one purchase, one count), so they
agree with the persons' figures. Reading 200,000 sales takes seconds, far over a page's
budget, so they are computed off the request path and kept in memory: a request gets
the last computed figures at once, and when the store changed since (a sale or an order
arrived; seen from a cheap count-and-max fingerprint) a refresh starts in a background
thread. Only the very first request of a process waits for the computation.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from greenloop.config import Settings
from greenloop.domain.purchases import CountingRules, MergeResult, merge_purchases
from greenloop.domain.reconcile import reconcile
from greenloop.errors import GreenLoopError
from greenloop.services.ingest import integration_start
from greenloop.store import tables as t
from greenloop.store.purchase_facts import load_order_facts, load_sale_facts
from greenloop.web.dashboard.queries_health import reconcile_summary

__all__ = ["Figures", "HeavyFigures", "channel_months"]

log = logging.getLogger(__name__)
ZERO = Decimal(0)


def channel_months(merged: MergeResult, zone: tzinfo | None) -> list[dict[str, Any]]:
    """Counted value and purchases per store-local month, eCom vs in-store. Returns
    subtract from their channel's value and are not purchases."""
    months: dict[str, dict[str, Any]] = {}
    for purchase in merged.purchases:
        if not purchase.counts or purchase.occurred_at is None:
            continue
        month = purchase.occurred_at.astimezone(zone or UTC).strftime("%Y-%m")
        entry = months.setdefault(
            month,
            {
                "ecom_value": ZERO,
                "instore_value": ZERO,
                "ecom_purchases": 0,
                "instore_purchases": 0,
            },
        )
        entry[f"{purchase.channel}_value"] += purchase.value
        if purchase.kind == "purchase":
            entry[f"{purchase.channel}_purchases"] += 1
    return [
        {
            "month": month,
            "ecom_value": str(v["ecom_value"]),
            "instore_value": str(v["instore_value"]),
            "ecom_purchases": v["ecom_purchases"],
            "instore_purchases": v["instore_purchases"],
        }
        for month, v in sorted(months.items())
    ]


@dataclass(frozen=True)
class Figures:
    revenue: list[dict[str, Any]]
    reconcile: dict[str, Any] | None
    reconcile_error: str | None
    computed_at: datetime
    fingerprint: tuple[Any, ...] = field(default=())

    def revenue_json(self) -> dict[str, Any]:
        return {"data": self.revenue, "computed_at": self.computed_at.astimezone(UTC).isoformat()}


def _fingerprint(conn: Connection) -> tuple[Any, ...]:
    s, o = t.sales.c, t.ecom_orders.c
    sales = conn.execute(select(func.count(), func.max(s.version))).one()
    orders = conn.execute(select(func.count(), func.max(o.imported_at))).one()
    return (*sales, *orders)


class HeavyFigures:
    """Revenue by month and the reconciliation, computed in the background."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        rules: CountingRules,
        zone: tzinfo | None,
        clock: Callable[[], datetime],
        *,
        check_seconds: float = 2.0,
        min_refresh_seconds: float = 60.0,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.rules = rules
        self.zone = zone
        self.clock = clock
        # How often the fingerprint is read: a page burst costs one check, not one each.
        self.check_seconds = check_seconds
        # A busy store changes every few seconds and one computation takes seconds (15 s
        # on 200,000 sales): wait at least this long, and four computations' time,
        # between refreshes, so the figures never take more than a fifth of a core.
        self.min_refresh_seconds = min_refresh_seconds
        self._next_refresh = 0.0
        self._current: Figures | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()  # one computation at a time
        self._refreshing = False

    def compute(self) -> Figures:
        """Read every sale and order once and work out both figures."""
        with self.engine.connect() as conn:
            fingerprint = _fingerprint(conn)
            sales = load_sale_facts(conn)
            orders = list(load_order_facts(conn))
        now = self.clock()
        revenue = channel_months(merge_purchases(sales, orders, self.rules), self.zone)
        summary: dict[str, Any] | None = None
        error = None
        try:
            tolerance = Decimal(self.settings.ecom.amount_tolerance)
        except InvalidOperation:
            error = "ecom.amount_tolerance is not a number"
        else:
            try:
                report = reconcile(
                    sales,
                    orders,
                    now=now,
                    integration_start=integration_start(self.settings),
                    amount_tolerance=tolerance,
                    time_tolerance=timedelta(minutes=self.settings.ecom.time_tolerance_minutes),
                    excluded=frozenset(self.settings.ecom.excluded_orders),
                )
                summary = reconcile_summary(report)
            except GreenLoopError as exc:
                error = str(exc)
        return Figures(revenue, summary, error, now, fingerprint)

    def refresh(self) -> Figures:
        """Compute now and keep the result (waits for a computation in progress)."""
        with self._lock:
            began = time.monotonic()
            figures = self.compute()
            self._current = figures
            took = time.monotonic() - began
            self._next_refresh = time.monotonic() + max(self.min_refresh_seconds, 4 * took)
            return figures

    def warm(self) -> None:
        """Start the first computation now, so the first visitor need not wait for it."""
        if not self._refreshing:
            self._refreshing = True
            threading.Thread(target=self._background, name="dashboard-figures", daemon=True).start()

    def get(self) -> Figures:
        """The last figures; a background refresh starts when the store changed."""
        current = self._current
        if current is None:
            with self._lock:
                if self._current is None:
                    self._current = self.compute()
                return self._current
        now = time.monotonic()
        if now - self._checked_at >= self.check_seconds and now >= self._next_refresh:
            self._checked_at = time.monotonic()
            with self.engine.connect() as conn:
                changed = _fingerprint(conn) != current.fingerprint
            if changed:
                self.warm()
        return current

    def _background(self) -> None:
        try:
            self.refresh()
        except (SQLAlchemyError, GreenLoopError) as exc:
            # Keep serving the last figures; the next page view tries again.
            log.warning("dashboard figures not refreshed: %s", exc)
        finally:
            self._refreshing = False
