"""Bringing facts in: the X-Series sync, eCom exports, and the eCom/X-Series reconciliation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from greenloop.analytics.options import counting_rules
from greenloop.config import Settings
from greenloop.domain.purchases import MergeResult, merge_purchases
from greenloop.domain.reconcile import ReconcileReport, reconcile
from greenloop.ecom.importer import ImportResult, import_exports
from greenloop.ecom.values import ValueLimits
from greenloop.errors import ConfigError, InputFileError
from greenloop.lightspeed.client import LightspeedClient
from greenloop.services.setup import open_engine
from greenloop.services.tokens import lightspeed_client
from greenloop.store.purchase_facts import load_order_facts, load_sale_facts
from greenloop.sync.pull import Progress, SyncReport, sync

__all__ = [
    "counting_rules",
    "ecom_limits",
    "import_ecom",
    "integration_start",
    "list_purchases",
    "reconcile_ecom",
    "run_sync",
]


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
    client = (client_factory or (lambda s: lightspeed_client(s)))(settings)
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
            columnar=settings.ecom.columnar_reader,
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
