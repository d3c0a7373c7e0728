"""A database of its own for each benchmark run (no figures here).

SQLite runs get a new file from the caller. On PostgreSQL every run works in a fresh
schema that is dropped at the end, so leftovers of another run (or of another
benchmark in the same database) never change the figures.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from greenloop.store.engine import make_engine

__all__ = ["scratch_database", "with_schema"]


def with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@contextmanager
def scratch_database(url: str, label: str) -> Iterator[str]:
    """``url`` unchanged for SQLite (or empty: the caller's own file); for PostgreSQL
    the same server with a new schema named after ``label`` first on the search path."""
    if not url or url.startswith("sqlite"):
        yield url
        return
    schema = f"bench_{label}_{os.getpid()}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield with_schema(url, schema)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()
