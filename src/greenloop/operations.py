"""What each command does, as plain functions: the CLI, web and scheduler call these.

Each function builds what it needs from ``Settings`` (engine, client), does one job and
returns a result object; errors are ``GreenLoopError`` subclasses for the caller to
translate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, make_url
from sqlalchemy.exc import ArgumentError

from greenloop.analytics.lists import at_risk, placeholder_list
from greenloop.analytics.master_csv import write_master
from greenloop.analytics.options import AnalyzeOptions
from greenloop.analytics.overrides import lock_tier, member_key, set_override
from greenloop.analytics.person import find_person, person_detail
from greenloop.analytics.preview import Preview, preview_program
from greenloop.analytics.program import load_program_file, program_from_settings, store_zone
from greenloop.analytics.recompute import RecomputeResult, recompute_customer
from greenloop.analytics.run import AnalyzeReport, analyze_all
from greenloop.config import DEFAULT_CONFIG_NAME, Settings, load_settings
from greenloop.config_template import render_config
from greenloop.domain.identity import IdentityRules
from greenloop.domain.metrics import MetricRules
from greenloop.domain.purchases import CountingRules, MergeResult, merge_purchases
from greenloop.domain.reconcile import ReconcileReport, reconcile
from greenloop.ecom.importer import ImportResult, import_exports
from greenloop.ecom.values import ValueLimits
from greenloop.errors import ConfigError, InputFileError
from greenloop.lightspeed.client import LightspeedClient, connect
from greenloop.store.analytics_repo import person_scope
from greenloop.store.engine import (
    head_revision,
    make_engine,
    migrate,
    require_current,
)
from greenloop.store.purchase_facts import load_order_facts, load_sale_facts
from greenloop.sync.pull import Progress, SyncReport, sync

__all__ = [
    "InitResult",
    "analyze",
    "analyze_options",
    "counting_rules",
    "customers_at_risk",
    "ecom_limits",
    "export_master",
    "import_ecom",
    "init_project",
    "integration_start",
    "link_profiles",
    "list_placeholders",
    "list_purchases",
    "lock_person_tier",
    "open_engine",
    "preview_tiers",
    "recompute",
    "reconcile_ecom",
    "run_sync",
    "show_customer",
]


@dataclass(frozen=True)
class InitResult:
    config_path: Path
    config_written: bool
    database_url: str
    revision: str | None


def init_project(
    config_path: Path | None,
    *,
    domain_prefix: str = "",
    base_url: str = "",
    database_url: str = "",
    force: bool = False,
) -> InitResult:
    """Write a commented config (unless one exists) and create or migrate the database.

    A database URL with a password is refused: greenloop.toml is an ordinary file
    (readable by others, often committed), so the password belongs in the environment.
    """
    path = Path(config_path or DEFAULT_CONFIG_NAME)
    written = False
    if database_url and _has_password(database_url):
        shown = make_url(database_url).set(password="PASSWORD")  # noqa: S106 - a placeholder
        raise ConfigError(
            "--database-url contains a password, and greenloop.toml is no place for one",
            hint=(
                "Set GREENLOOP_DATABASE_URL='"
                f"{shown.render_as_string(hide_password=False)}' in the environment (with the "
                "real password) and run `greenloop init` without --database-url, or keep "
                "the password in ~/.pgpass or PGPASSWORD"
            ),
        )
    if force or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            render_config(
                domain_prefix=domain_prefix, base_url=base_url, database_url=database_url
            ),
            encoding="utf-8",
        )
        written = True
    settings = load_settings(path)
    engine = make_engine(settings.database_url(), echo=settings.database.echo)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    return InitResult(path, written, _safe_url(settings.database_url()), head_revision())


def _has_password(url: str) -> bool:
    try:
        return make_url(url).password is not None
    except ArgumentError:
        return False  # not a URL at all: make_engine says so


def _safe_url(url: str) -> str:
    # A database password in the URL must not be printed.
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}@{host}"
    return url


def open_engine(settings: Settings) -> Engine:
    """An engine on a database whose schema is current (else a StoreError with the fix)."""
    engine = make_engine(settings.database_url(), echo=settings.database.echo)
    require_current(engine)
    return engine


def run_sync(
    settings: Settings,
    *,
    full: bool = False,
    progress: Progress | None = None,
    client_factory: Callable[[Settings], LightspeedClient] | None = None,
    wait_seconds: float = 60.0,
) -> SyncReport:
    """``greenloop sync``: pull every configured resource incrementally.

    One sync at a time: when another holds the lock (a second `greenloop sync`, the
    daily job, `serve`'s poll), wait up to ``wait_seconds`` for it, then raise Busy.
    """
    if settings.sync.page_size < 1:
        raise ConfigError("sync.page_size must be at least 1")
    engine = open_engine(settings)
    client = (client_factory or (lambda s: connect(s.lightspeed)))(settings)
    try:
        return sync(
            engine,
            client,
            resources=settings.sync.resources,
            page_size=settings.sync.page_size,
            full=full,
            progress=progress,
            lock_wait_seconds=wait_seconds,
            lock_ttl=timedelta(minutes=settings.jobs.lock_minutes),
        )
    finally:
        client.close()
        engine.dispose()


def import_ecom(
    settings: Settings, paths: Sequence[Path], *, dry_run: bool = False
) -> ImportResult:
    """``greenloop import-ecom``: each file in one transaction; rejected rows reported."""
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise InputFileError(
            f"no such file: {', '.join(missing)}",
            hint="Pass the CSV downloaded from eCom admin → My Sales → Orders → Export.",
        )
    engine = open_engine(settings)
    try:
        return import_exports(
            engine,
            paths,
            timezone=settings.ecom.timezone,
            day_first=settings.ecom.day_first,
            ambiguous=settings.ecom.ambiguous_time,
            dry_run=dry_run,
            limits=ecom_limits(settings),
        )
    finally:
        engine.dispose()


def ecom_limits(settings: Settings) -> ValueLimits:
    """The ``[ecom]`` limits beyond which an exported value refuses its order."""
    ecom = settings.ecom
    return ValueLimits(
        max_order_total=ecom.max_order_total,
        max_quantity=ecom.max_quantity,
        earliest=datetime.combine(ecom.earliest_order_date, time(), tzinfo=UTC),
        max_future=timedelta(days=ecom.max_future_days),
    )


def counting_rules(settings: Settings) -> CountingRules:
    return CountingRules(
        online_register_ids=frozenset(settings.ecom.online_register_ids),
        excluded_order_numbers=frozenset(settings.ecom.excluded_orders),
        count_zero_total_orders=settings.ecom.count_zero_total_orders,
        include_tax=settings.analytics.include_tax,
        include_shipping=settings.analytics.include_shipping,
        include_loyalty_redemptions=settings.analytics.include_loyalty_redemptions,
    )


def list_purchases(settings: Settings) -> MergeResult:
    """Every real purchase once, from X-Series where the twin exists, else the export."""
    engine = open_engine(settings)
    try:
        with engine.connect() as conn:
            sales = load_sale_facts(conn)
            return merge_purchases(sales, load_order_facts(conn), counting_rules(settings))
    finally:
        engine.dispose()


def integration_start(settings: Settings) -> datetime | None:
    """``ecom.integration_start`` as a moment (UTC when no offset is given), or None."""
    text = settings.ecom.integration_start.strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"ecom.integration_start '{text}' is not a date", hint="Write it like 2024-05-01."
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def reconcile_ecom(settings: Settings, *, now: datetime | None = None) -> ReconcileReport:
    """``greenloop reconcile``: eCom orders against their X-Series twins."""
    try:
        tolerance = Decimal(settings.ecom.amount_tolerance)
    except InvalidOperation:
        raise ConfigError("ecom.amount_tolerance is not a number") from None
    engine = open_engine(settings)
    try:
        with engine.connect() as conn:
            sales = load_sale_facts(conn)
            return reconcile(
                sales,
                load_order_facts(conn),
                now=now or datetime.now(UTC),
                integration_start=integration_start(settings),
                amount_tolerance=tolerance,
                time_tolerance=timedelta(minutes=settings.ecom.time_tolerance_minutes),
                excluded=frozenset(settings.ecom.excluded_orders),
            )
    finally:
        engine.dispose()


def analyze_options(settings: Settings) -> AnalyzeOptions:
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
        ),
        program=program_from_settings(settings),
        metrics=MetricRules(
            store_zone=zone,
            same_day_is_one_visit=analytics.same_day_is_one_visit,
            recent_days=30,
            window_days=90,
        ),
        min_visits_for_own_cycle=analytics.min_visits_for_own_cycle,
        predictions=analytics.predictions,
        readiness={
            "min_customers": analytics.min_customers_for_predictions,
            "min_history_days": analytics.min_history_days_for_predictions,
            "min_repeat_customers": analytics.min_repeat_customers_for_predictions,
        },
        emit_events=settings.events.enabled,
        announce_first_analysis=settings.events.announce_first_analysis,
    )


def analyze(settings: Settings, *, now: datetime | None = None) -> AnalyzeReport:
    """``greenloop analyze``: identities, metrics, tiers and risk for everyone."""
    options = analyze_options(settings)
    engine = open_engine(settings)
    try:
        return analyze_all(engine, options, now or datetime.now(UTC))
    finally:
        engine.dispose()


def show_customer(
    settings: Settings, query: str, *, as_of: datetime | None = None
) -> dict[str, Any]:
    """``greenloop customers show``: one person in full (replayed at ``as_of``)."""
    options = analyze_options(settings)
    engine = open_engine(settings)
    try:
        return person_detail(engine, options, query, as_of=as_of)
    finally:
        engine.dispose()


def customers_at_risk(settings: Settings, *, limit: int | None = None) -> list[dict[str, Any]]:
    engine = open_engine(settings)
    try:
        with engine.connect() as conn:
            return at_risk(conn, limit)
    finally:
        engine.dispose()


def list_placeholders(settings: Settings) -> list[dict[str, Any]]:
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
    engine = open_engine(settings)
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            set_override(conn, a, b, "unlink" if unlink else "link", now, note)
            keys = [member_key(conn, a), member_key(conn, b)]
        customers = [k.removeprefix("customer:") for k in keys if k.startswith("customer:")]
        return recompute_customer(engine, analyze_options(settings), customers, now)
    finally:
        engine.dispose()


def recompute(
    settings: Settings, customer_ids: Sequence[str], *, now: datetime | None = None
) -> RecomputeResult:
    """Recompute the persons of these profiles (the real-time path)."""
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
    options = analyze_options(settings)
    program = load_program_file(program_file, settings)
    engine = open_engine(settings)
    try:
        return preview_program(engine, options, program, now or datetime.now(UTC))
    finally:
        engine.dispose()


def export_master(settings: Settings, out: Path, *, now: datetime | None = None) -> int:
    """``greenloop export master``: customer_analytics_master.csv."""
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
