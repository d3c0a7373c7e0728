"""What each command does, as plain functions: the CLI, web and scheduler call these.

Each function builds what it needs from ``Settings`` (engine, client), does one job and
returns a result object; errors are ``GreenLoopError`` subclasses for the caller to
translate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from greenloop.config import DEFAULT_CONFIG_NAME, Settings, load_settings
from greenloop.config_template import render_config
from greenloop.errors import ConfigError
from greenloop.lightspeed.client import LightspeedClient, connect
from greenloop.store.engine import head_revision, make_engine, migrate, require_current
from greenloop.sync.pull import Progress, SyncReport, sync

__all__ = ["InitResult", "init_project", "open_engine", "run_sync"]


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
    """Write a commented config (unless one exists) and create or migrate the database."""
    path = Path(config_path or DEFAULT_CONFIG_NAME)
    written = False
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
) -> SyncReport:
    """``greenloop sync``: pull every configured resource incrementally."""
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
        )
    finally:
        client.close()
        engine.dispose()
