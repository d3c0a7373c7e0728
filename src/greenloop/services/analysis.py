"""Persons, metrics and tiers: full and one-person analyses, lookups, overrides and exports."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenloop.config import Settings
from greenloop.errors import ConfigError
from greenloop.services.setup import open_engine

if TYPE_CHECKING:
    from greenloop.analytics.options import AnalyzeOptions
    from greenloop.analytics.preview import Preview
    from greenloop.analytics.recompute import RecomputeResult
    from greenloop.analytics.run import AnalyzeReport

# Each function imports the analytics it runs: a command that looks one person up should
# not pay for loading the full analysis, the backtest and the model fits (issue 18).

__all__ = [
    "analyze",
    "analyze_as_of",
    "analyze_options",
    "backtest",
    "customers_at_risk",
    "export_master",
    "link_profiles",
    "list_placeholders",
    "lock_person_tier",
    "preview_tiers",
    "recompute",
    "show_customer",
]


def analyze_options(settings: Settings) -> AnalyzeOptions:
    from greenloop.analytics.options import AnalyzeOptions, counting_rules
    from greenloop.analytics.program import program_from_settings, store_zone
    from greenloop.domain.identity import IdentityRules
    from greenloop.domain.metrics import MetricRules

    ident = settings.identity
    analytics = settings.analytics
    zone = store_zone(settings)
    return AnalyzeOptions(
        counting=counting_rules(settings),
        identity=IdentityRules(
            default_region=ident.default_region,
            gmail_ignore_dots=ident.gmail_ignore_dots,
            ignore_plus_tags=ident.ignore_plus_tags,
            placeholder_emails=ident.placeholder_emails,
            placeholder_phones=ident.placeholder_phones,
            max_profiles_per_value=ident.max_profiles_per_value,
            suggestions=ident.suggestions,
            auto_link_probability=ident.auto_link_probability,
            suggest_probability=min(ident.suggest_probability, ident.auto_link_probability),
        ),
        program=program_from_settings(settings),
        metrics=MetricRules(
            store_zone=zone,
            same_day_is_one_visit=analytics.same_day_is_one_visit,
            recent_days=30,
            window_days=90,
        ),
        min_visits_for_own_cycle=analytics.min_visits_for_own_cycle,
        at_risk_expected_below=analytics.at_risk_expected_purchases_below,
        predictions=analytics.predictions,
        prediction_models=tuple(analytics.prediction_models),
        model_choice_days=analytics.model_choice_days,
        match_weights_days=ident.match_weights_days,
        readiness={
            "min_customers": analytics.min_customers_for_predictions,
            "min_history_days": analytics.min_history_days_for_predictions,
            "min_repeat_customers": analytics.min_repeat_customers_for_predictions,
        },
        emit_events=settings.events.enabled,
        announce_first_analysis=settings.events.announce_first_analysis,
        carry_over=analytics.carry_over,
    )


def analyze(settings: Settings, *, now: datetime | None = None) -> AnalyzeReport:
    """``greenloop analyze``: identities, metrics, tiers and risk for everyone."""
    from greenloop.analytics.run import analyze_all

    options = analyze_options(settings)
    engine = open_engine(settings)
    try:
        return analyze_all(engine, options, now or datetime.now(UTC))
    finally:
        engine.dispose()


def analyze_as_of(settings: Settings, as_of: datetime) -> AnalyzeReport:
    """``greenloop analyze --as-of``: everything as if it were ``as_of``; writes nothing."""
    from greenloop.analytics import backtest as backtests

    options = analyze_options(settings)
    engine = open_engine(settings)
    try:
        began = time.perf_counter()
        computed = backtests.analyze_as_of(engine, options, as_of)
        return backtests.what_if_report(computed, as_of, time.perf_counter() - began)
    finally:
        engine.dispose()


def backtest(
    settings: Settings, as_of: datetime, *, horizon_days: int | None = None
) -> dict[str, Any]:
    """``greenloop backtest``: predictions made as of ``as_of`` scored against what
    followed; the result is kept as the last backtest (the dashboard's at-risk page).
    Raises ``NotEnoughHistory`` when the history before ``as_of`` is too short."""
    from greenloop.analytics import backtest as backtests

    options = analyze_options(settings)
    horizon = horizon_days or settings.analytics.backtest_horizon_days
    engine = open_engine(settings)
    try:
        result = backtests.backtest(engine, options, as_of, horizon_days=horizon)
        backtests.save_backtest(engine, result, datetime.now(UTC))
        return result
    finally:
        engine.dispose()


def show_customer(
    settings: Settings, query: str, *, as_of: datetime | None = None
) -> dict[str, Any]:
    """``greenloop customers show``: one person in full (replayed at ``as_of``)."""
    from greenloop.analytics.person import person_detail

    options = analyze_options(settings)
    engine = open_engine(settings)
    try:
        return person_detail(engine, options, query, as_of=as_of)
    finally:
        engine.dispose()


def customers_at_risk(settings: Settings, *, limit: int | None = None) -> list[dict[str, Any]]:
    from greenloop.analytics.lists import at_risk

    engine = open_engine(settings)
    try:
        with engine.connect() as conn:
            return at_risk(conn, limit)
    finally:
        engine.dispose()


def list_placeholders(settings: Settings) -> list[dict[str, Any]]:
    from greenloop.analytics.lists import placeholder_list

    engine = open_engine(settings)
    try:
        with engine.connect() as conn:
            return placeholder_list(conn)
    finally:
        engine.dispose()


def link_profiles(
    settings: Settings, a: str, b: str, *, unlink: bool = False, note: str = ""
) -> RecomputeResult:
    """``customers link`` / ``unlink``: record the override, then recompute both persons."""
    from greenloop.analytics.overrides import member_key, set_override
    from greenloop.analytics.recompute import recompute_customer
    from greenloop.store import matches_repo

    engine = open_engine(settings)
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            set_override(conn, a, b, "unlink" if unlink else "link", now, note)
            keys = [member_key(conn, a), member_key(conn, b)]
            # A decided pair leaves the review queue.
            matches_repo.drop_pair(conn, *keys)
        customers = [k.removeprefix("customer:") for k in keys if k.startswith("customer:")]
        others = [k for k in keys if not k.startswith("customer:")]
        cause = "profiles kept apart by staff" if unlink else "profiles joined by staff"
        return recompute_customer(
            engine, analyze_options(settings), customers, now, members=others, cause=cause
        )
    finally:
        engine.dispose()


def recompute(
    settings: Settings, customer_ids: Sequence[str], *, now: datetime | None = None
) -> RecomputeResult:
    """Recompute the persons of these profiles (the real-time path)."""
    from greenloop.analytics.recompute import recompute_customer

    engine = open_engine(settings)
    try:
        return recompute_customer(
            engine, analyze_options(settings), customer_ids, now or datetime.now(UTC)
        )
    finally:
        engine.dispose()


def preview_tiers(
    settings: Settings, program_file: Path, *, now: datetime | None = None
) -> Preview:
    """``greenloop tiers preview``: everyone under another program; nothing written."""
    from greenloop.analytics.preview import preview_program
    from greenloop.analytics.program import load_program_file

    options = analyze_options(settings)
    program = load_program_file(program_file, settings)
    engine = open_engine(settings)
    try:
        return preview_program(engine, options, program, now or datetime.now(UTC))
    finally:
        engine.dispose()


def export_master(settings: Settings, out: Path, *, now: datetime | None = None) -> int:
    """``greenloop export master``: customer_analytics_master.csv."""
    from greenloop.analytics.master_csv import write_master

    engine = open_engine(settings)
    try:
        with engine.connect() as conn:
            return write_master(conn, out, now or datetime.now(UTC))
    finally:
        engine.dispose()


def lock_person_tier(
    settings: Settings, query: str, tier: str | None, until: datetime, *, note: str = ""
) -> RecomputeResult:
    """``greenloop tiers lock``: keep a person in ``tier`` until ``until`` (None: no tier)."""
    from greenloop.analytics.overrides import lock_tier
    from greenloop.analytics.person import find_person
    from greenloop.analytics.recompute import recompute_customer
    from greenloop.store.analytics_repo import person_scope

    options = analyze_options(settings)
    names = {t.name for t in options.program.tiers}
    if tier is not None and tier not in names:
        raise ConfigError(
            f"'{tier}' is not a tier of the program",
            hint=f"Use one of: {', '.join(sorted(names))} (or --none).",
        )
    engine = open_engine(settings)
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            pid = find_person(conn, query, options)
            lock_tier(conn, pid, tier, until, now, note)
            _members, customers, _emails = person_scope(conn, [pid])
        return recompute_customer(engine, options, sorted(customers), now)
    finally:
        engine.dispose()
