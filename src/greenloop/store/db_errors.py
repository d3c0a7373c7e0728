"""Database errors told safely: the exception class and the constraint or table, never
the statement or its parameters.

A failed bulk insert's SQLAlchemy exception carries the statement and every row it was
given (hundreds of sales, customers' emails and phones), and PostgreSQL's own message
can quote the failing row (``DETAIL: Failing row contains (…)``) or a bad value. None
of that may reach a terminal, a log or a stored error text: :func:`describe_db_error`
builds one line from the error's *kind* only, :func:`store_error_from` turns it into
the matching :class:`~greenloop.errors.GreenLoopError`, and :func:`safe_traceback`
renders a traceback whose database errors are replaced by that line.
"""

from __future__ import annotations

import re
import sqlite3
import sys
import traceback
from types import ModuleType
from typing import Any

from greenloop.errors import GreenLoopError, StoreError, StoreUnavailable

__all__ = ["describe_db_error", "is_db_error", "safe_traceback", "store_error_from"]

# SQLite's messages name columns and tables, never values; these are the shapes kept.
_SQLITE_SAFE = re.compile(
    r"^((UNIQUE|NOT NULL|CHECK|FOREIGN KEY|PRIMARY KEY) constraint failed(: [\w., ]+)?"
    r"|database is locked|database table is locked|disk I/O error|database disk image is"
    r" malformed|unable to open database file|attempt to write a readonly database"
    r"|no such (table|column|index): [\w.]+|database or disk is full|interrupted)$"
)


def _sqlalchemy_exc() -> ModuleType | None:
    # Looked up, never imported, like the drivers below: an error can only come from
    # SQLAlchemy once it is loaded, and a command that never opens the database (one
    # that asked a running serve) must not pay ~0.1 s to import it for its logging.
    return sys.modules.get("sqlalchemy.exc")


def _driver_errors() -> tuple[type[BaseException], ...]:
    # Only a loaded driver can have raised: psycopg is looked up, never imported, so a
    # command on SQLite does not pay ~0.1 s to load the PostgreSQL driver.
    found: list[type[BaseException]] = [sqlite3.Error]
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None:
        found.append(psycopg.Error)
    return tuple(found)


def is_db_error(exc: BaseException) -> bool:
    """An error of SQLAlchemy or of a database driver (which may quote row data)."""
    sa = _sqlalchemy_exc()
    if sa is not None and isinstance(exc, sa.SQLAlchemyError):
        return True
    return isinstance(exc, _driver_errors())


def _driver_detail(orig: BaseException) -> str:
    """What the driver's error says about *where* it happened, never about the data."""
    diag: Any = getattr(orig, "diag", None)
    if diag is not None:  # psycopg: structured fields instead of the message
        parts = [type(orig).__name__]
        if diag.sqlstate:
            parts.append(f"SQLSTATE {diag.sqlstate}")
        for label, value in (
            ("constraint", diag.constraint_name),
            ("table", diag.table_name),
            ("column", diag.column_name),
        ):
            if value:
                parts.append(f"{label} {value}")
        if not diag.sqlstate:
            # No server error code: the connection itself failed (refused, lost, bad
            # password). libpq's first line names the server, never a row.
            first = str(orig).strip().splitlines()[0:1]
            if first:
                parts.append(first[0][:200])
        return ", ".join(parts)
    if isinstance(orig, sqlite3.Error):
        message = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
        kept = message if _SQLITE_SAFE.match(message) else ""
        name = getattr(orig, "sqlite_errorname", "") or type(orig).__name__
        return f"{name}: {kept}" if kept else name
    return type(orig).__name__


def describe_db_error(exc: BaseException) -> str:
    """One line for a database error: class, driver class and constraint/table."""
    orig: BaseException | None
    sa = _sqlalchemy_exc()
    if sa is not None and isinstance(exc, sa.DBAPIError):
        orig = exc.orig
    elif sa is not None and isinstance(exc, sa.StatementError):
        # A parameter that could not be bound: the inner error may quote the value.
        orig = None
    elif isinstance(exc, _driver_errors()):
        orig = exc
    else:
        return f"database error ({type(exc).__name__})"
    name = type(exc).__name__
    if orig is None:
        return f"database error ({name})"
    detail = _driver_detail(orig)
    if orig is exc:
        return f"database error ({detail})"
    return f"database error ({name}: {detail})"


def store_error_from(exc: BaseException, *, doing: str = "") -> GreenLoopError:
    """The GreenLoopError a database error stands for: retryable when the database was
    locked, away or a transaction conflicted, otherwise a store error. ``doing``
    prefixes the message ("database migration failed: …")."""
    text = f"{doing}: {describe_db_error(exc)}" if doing else describe_db_error(exc)
    sa = _sqlalchemy_exc()
    retryable = (sa is not None and isinstance(exc, sa.OperationalError)) or (
        isinstance(exc, _driver_errors()) and type(exc).__name__ == "OperationalError"
    )
    if retryable:
        return StoreUnavailable(text)
    return StoreError(
        text,
        hint=(
            "The failed step's transaction was rolled back; re-run, and if it happens "
            "again report it with this line (no data was printed)."
        ),
    )


def _chain(exc: BaseException) -> list[BaseException]:
    seen: set[int] = set()
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        elif not current.__suppress_context__:
            current = current.__context__
        else:
            current = None
    return chain


def safe_traceback(exc: BaseException) -> str | None:
    """The traceback of ``exc`` with every database error in its chain told by
    :func:`describe_db_error`; ``None`` when the chain holds no database error (then
    the ordinary rendering is safe to use)."""
    chain = _chain(exc)
    if not any(is_db_error(e) for e in chain):
        return None
    blocks = []
    for error in reversed(chain):
        frames = "".join(traceback.format_tb(error.__traceback__))
        if is_db_error(error):
            last = f"{type(error).__module__}.{type(error).__qualname__}: "
            last += describe_db_error(error) + "\n"
        else:
            last = "".join(traceback.format_exception_only(type(error), error))
        blocks.append(f"Traceback (most recent call last):\n{frames}{last}")
    return "\nThe above exception led to the following exception:\n\n".join(blocks).rstrip()
