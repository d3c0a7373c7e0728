"""What an analysis is asked to do, and the small helpers a full and a one-person run share."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from greenloop.analytics.compute import HistoryEntry
from greenloop.config import Settings
from greenloop.domain.identity import IdentityRules
from greenloop.domain.metrics import MetricRules
from greenloop.domain.purchases import CountingRules
from greenloop.domain.risk import DEFAULT_EXPECTED_BACK_SOON
from greenloop.domain.tiers import Program

__all__ = ["AnalyzeOptions", "counting_rules", "history_row", "new_person_id"]


def new_person_id() -> str:
    return "p_" + uuid.uuid4().hex[:16]


@dataclass(frozen=True)
class AnalyzeOptions:
    counting: CountingRules
    identity: IdentityRules
    program: Program
    metrics: MetricRules
    min_visits_for_own_cycle: int = 3
    predictions: bool = True
    readiness: Mapping[str, int] = field(default_factory=dict)
    # A person past their cycle whom the fitted model expects to buy at least this many
    # times in the next 90 days is not at risk (domain.risk.confirmed_by_model).
    at_risk_expected_below: Decimal = DEFAULT_EXPECTED_BACK_SOON
    # The purchase models the per-store choice may pick from (analytics.prediction_models).
    prediction_models: tuple[str, ...] = ("bgnbd", "mbgnbd", "pareto_nbd", "nbd")
    # A model choice younger than this many days is kept with its fit (refitted only
    # when the people with a purchase changed by more than 1%, never backtested again);
    # 0 chooses at every analysis (analytics.model_choice_days).
    model_choice_days: int = 7
    # Match weights younger than this many days are kept and only the changed records'
    # pairs are scored again; 0 learns and scores everything at every analysis
    # (analytics.match_cache).
    match_weights_days: int = 7
    # Outgoing tier-change events (events.url): queue one per history row written.
    emit_events: bool = False
    announce_first_analysis: bool = False
    # Take an unchanged person's stored row instead of computing it (analytics.carry_over).
    carry_over: bool = True


def counting_rules(settings: Settings) -> CountingRules:
    """Which purchases count, and at what value, as the settings say."""
    return CountingRules(
        online_register_ids=frozenset(settings.ecom.online_register_ids),
        excluded_order_numbers=frozenset(settings.ecom.excluded_orders),
        count_zero_total_orders=settings.ecom.count_zero_total_orders,
        include_tax=settings.analytics.include_tax,
        include_shipping=settings.analytics.include_shipping,
        include_loyalty_redemptions=settings.analytics.include_loyalty_redemptions,
    )


def history_row(entry: HistoryEntry, run_id: int) -> dict[str, Any]:
    return {
        "person_id": entry.person_id,
        "at": entry.at,
        "from_tier": entry.from_tier,
        "to_tier": entry.to_tier,
        "change": entry.change,
        "reason": entry.reason,
        "reasons": entry.reasons,
        "run_id": run_id,
    }
