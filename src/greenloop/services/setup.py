"""Setting a project up: the config file, the database and its migrations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, make_url
from sqlalchemy.exc import ArgumentError

from greenloop.config import DEFAULT_CONFIG_NAME, Settings, load_settings
from greenloop.config.template import render_config
from greenloop.errors import ConfigError
from greenloop.store.engine import (
    head_revision,
    make_engine,
    migrate,
    require_current,
)

__all__ = ["InitResult", "init_project", "open_engine"]


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
