"""Engines for SQLite (the embedded default) and PostgreSQL (production), and migrations.

Every engine hides statement parameters (``hide_parameters``): an error's text, a
traceback or ``database.echo`` output never shows the rows a statement carried. A new
SQLite file is created readable by its owner only (0600), since it holds customers'
names, emails and purchases; SQLite gives its -wal, -shm and -journal files the
database file's permissions.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import Column, Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from greenloop.errors import StoreError
from greenloop.store.db_errors import describe_db_error, store_error_from
from greenloop.store.types import Money, UtcDateTime

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "alembic_config",
    "compare_type",
    "current_revision",
    "head_revision",
    "make_engine",
    "migrate",
]

MIGRATIONS = Path(__file__).with_name("migrations")


def normalise_url(url: str) -> str:
    # People paste libpq URLs; GreenLoop ships psycopg 3, not psycopg2.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, echo: bool = False) -> Engine:
    url = normalise_url(url)
    kwargs: dict[str, Any] = {
        "echo": echo,
        "future": True,
        "hide_parameters": True,
        "json_serializer": _json_text,
    }
    if url.startswith("sqlite"):
        path = _sqlite_file(url)
        if path is not None:
            _create_private(path)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **kwargs)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        detail = (str(exc).splitlines() or [""])[0][:200]
        try:
            password = make_url(url).password
        except ArgumentError:
            password = None
        if password:  # the message may quote the URL, password and all
            detail = detail.replace(str(password), "***")
        raise StoreError(f"cannot use database URL ({exc.__class__.__name__}: {detail})") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _json_text(value: Any) -> str:
    """JSON columns' text. SQLAlchemy's default, ``json.dumps``, was a quarter of a first
    analysis' write stage (878,000 values for 196,000 persons); msgspec writes the same
    values as compact UTF-8 JSON several times faster, and every reader parses both."""
    return msgspec.json.encode(value).decode()


def _sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names; None for an in-memory or URI-style database."""
    try:
        database = make_url(url).database
    except ArgumentError:
        return None  # create_engine says what is wrong with it
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _create_private(path: Path) -> None:
    """Create the SQLite file 0600 before SQLite would create it 0644 (umask allowing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(
            f"cannot create the database file {path} ({exc.strerror})",
            hint="Check the folder exists and is writable, or set database.url.",
        ) from None
    os.close(fd)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the dashboard read while a sync writes; foreign keys are off by default.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Keys are random UUIDs, so B-tree inserts touch pages all over the file; the 2 MB
    # default cache made a 200,000-sale sync spend most of its time re-reading pages.
    cursor.execute("PRAGMA cache_size=-65536")
    # Checkpoint every ~40 MB of WAL instead of 4 MB: pages rewritten by consecutive sync
    # pages are then copied back once, which halved commit time in the sync benchmark.
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.close()


# Alembic is imported only to migrate: loading it (and every dialect it knows) cost each
# command ~0.15 s, and the schema check every command makes needs none of it.


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to ``revision``."""
    from alembic import command

    try:
        command.upgrade(alembic_config(engine), revision)
    except SQLAlchemyError as exc:
        raise store_error_from(exc, doing="database migration failed") from None


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(engine), revision)


_REVISION_LINE = re.compile(r'^(down_revision|revision) = (?:"([^"]*)"|None)$', re.MULTILINE)


@cache
def head_revision() -> str | None:
    """The newest migration: the one revision no other names as its parent.

    Read from the migration files' ``revision`` / ``down_revision`` lines; a history
    that is not one straight line is left to Alembic to read (and complain about).
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        fields = {m.group(1): m.group(2) for m in _REVISION_LINE.finditer(path.read_text())}
        if fields.get("revision"):
            revisions.add(fields["revision"])
        if fields.get("down_revision"):
            parents.add(fields["down_revision"])
    heads = revisions - parents
    if len(heads) == 1:
        return heads.pop()
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (Alembic's ``alembic_version`` table), or None."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return str(rows[0]) if len(rows) == 1 else None


def require_current(engine: Engine) -> None:
    """Refuse to run against a database that is missing or behind the code's schema."""
    try:
        current = current_revision(engine)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open the database: {describe_db_error(exc)}") from None
    if current != head_revision():
        raise StoreError(
            f"the database schema is at {current or 'nothing'}, expected {head_revision()}",
            hint="Run `greenloop init` to create or migrate the database.",
        )


def compare_type(
    ctx: Any, inspected_column: Any, metadata_column: Any, inspected_type: Any, metadata_type: Any
) -> bool | None:
    """Alembic hook: our TypeDecorators store differently per dialect, so compare what
    they load as on this dialect rather than the decorator itself."""
    if isinstance(metadata_type, (Money, UtcDateTime)):
        impl = metadata_type.load_dialect_impl(ctx.dialect)
        return bool(ctx.impl.compare_type(inspected_column, Column(metadata_column.name, impl)))
    return None
