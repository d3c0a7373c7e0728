"""What `tiers push` and `tiers verify` do, as plain functions over ``Settings``.

This is the one place where push meets sync: the push package reads the store and
writes through the client, and refreshes its copy of groups and customers through the
`Refresh` built here on :func:`greenloop.sync.pull.sync` (an incremental pull by cursor).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from greenloop.analytics.program import program_from_settings
from greenloop.config import Settings
from greenloop.errors import ConfigError
from greenloop.lightspeed.client import LightspeedClient
from greenloop.push.apply import PushOptions, PushReport, push_tiers
from greenloop.push.refresh import Refresh
from greenloop.push.sync_log import write_sync_log
from greenloop.push.verify import VerifyReport, verify_tiers
from greenloop.services.setup import open_engine
from greenloop.services.tokens import lightspeed_client
from greenloop.sync.pull import sync

__all__ = [
    "pull_refresh",
    "push_customers",
    "push_options",
    "run_push",
    "run_verify",
    "sync_log_path",
]

ClientFactory = Callable[[Settings], LightspeedClient]


def push_options(
    settings: Settings, *, dry_run: bool = False, limit: int | None = None
) -> PushOptions:
    p = settings.push
    return PushOptions(
        batch_size=p.batch_size,
        dry_run=dry_run,
        limit=limit,
        managed_groups=p.managed_groups,
        default_group=p.default_group,
        hand_moves=p.hand_moves,
        move_placeholder_profiles=p.move_placeholder_profiles,
        create_missing_groups=p.create_missing_groups,
        lock_ttl=timedelta(minutes=settings.jobs.lock_minutes),
    )


def pull_refresh(
    settings: Settings,
    engine: Engine,
    client: LightspeedClient,
    clock: Callable[[], datetime] | None = None,
) -> Refresh:
    """A push's or a verify's `Refresh`: pull the resources by cursor on ``client``."""

    def refresh(resources: Sequence[str]) -> int:
        before = client.stats.requests
        sync(
            engine,
            client,
            resources=resources,
            page_size=settings.sync.page_size,
            clock=clock,
        )
        return client.stats.requests - before

    return refresh


def sync_log_path(settings: Settings) -> Path:
    return settings.path(settings.jobs.output_dir) / "tier_sync_log.json"


def run_push(
    settings: Settings,
    *,
    dry_run: bool = False,
    limit: int | None = None,
    log_file: Path | None = None,
    client_factory: ClientFactory | None = None,
    clock: Callable[[], datetime] | None = None,
) -> tuple[PushReport, Path]:
    """``greenloop tiers push``: one run, logged in the database and in the log file."""
    if limit is not None and limit < 0:
        raise ConfigError("--limit must be zero or more")
    engine = open_engine(settings)
    client = (client_factory or (lambda s: lightspeed_client(s)))(settings)
    try:
        report = push_tiers(
            engine,
            client,
            program_from_settings(settings),
            push_options(settings, dry_run=dry_run, limit=limit),
            refresh=pull_refresh(settings, engine, client, clock),
            clock=clock,
        )
    finally:
        client.close()
        engine.dispose()
    path = write_sync_log(report, log_file or sync_log_path(settings))
    return report, path


def push_customers(
    settings: Settings,
    customer_ids: Iterable[str],
    *,
    client: LightspeedClient,
    clock: Callable[[], datetime] | None = None,
    engine: Engine | None = None,
) -> PushReport:
    """Push the tier of just these profiles (the real-time path), on a shared client.

    A long-running caller passes its ``engine``: a fresh one per push costs a schema
    check and recompiling every statement, most of a one-person push's time."""
    own = engine is None
    engine = open_engine(settings) if engine is None else engine
    try:
        return push_tiers(
            engine,
            client,
            program_from_settings(settings),
            push_options(settings),
            refresh=pull_refresh(settings, engine, client, clock),
            customer_ids=customer_ids,
            clock=clock,
        )
    finally:
        if own:
            engine.dispose()


def run_verify(
    settings: Settings,
    *,
    client_factory: ClientFactory | None = None,
    clock: Callable[[], datetime] | None = None,
) -> VerifyReport:
    """``greenloop tiers verify``: groups in Lightspeed against what GreenLoop expects."""
    engine = open_engine(settings)
    client = (client_factory or (lambda s: lightspeed_client(s)))(settings)
    try:
        return verify_tiers(
            engine,
            pull_refresh(settings, engine, client, clock),
            program_from_settings(settings),
            default_group=settings.push.default_group,
            managed_groups=settings.push.managed_groups,
            move_placeholder_profiles=settings.push.move_placeholder_profiles,
            hand_moves=settings.push.hand_moves,
            clock=clock,
        )
    finally:
        client.close()
        engine.dispose()
