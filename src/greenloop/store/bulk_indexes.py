"""Secondary indexes built once after a bulk load into an empty table, not row by row.

A store's first full analysis writes every person, identity member and value at once
(about 200,000 of each on a large store). Keeping each secondary index up to date
insert by insert costs more than building it once from the loaded rows, on SQLite and
PostgreSQL alike. Both drop and create the indexes inside the caller's transaction
(DDL is transactional in both), so a failed load leaves the schema as it was. On
PostgreSQL ``DROP INDEX`` locks its table until the commit; that is only done to
tables that are empty, so no reader is kept from anything.

On PostgreSQL the loaded tables are also analyzed before the commit. Their statistics
still said empty (autovacuum analyzes a minute or more later), and the first real-time
recomputes after a store's first analysis were planned for empty tables: on 200,000
profiles one look-up of a person's members and identity values joined by hashing every
identity value, 88 ms of a 99 ms recompute (0.3 ms planned by the statistics;
benchmarks/analyze.py, 2026-12-07). See also ``store/planner_stats``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Connection, Table, exists, select

__all__ = ["BULK_LOAD_MIN_ROWS", "indexes_built_after"]

# Below this many rows, maintaining the indexes as rows go in is cheaper.
BULK_LOAD_MIN_ROWS = 50_000


@contextmanager
def indexes_built_after(conn: Connection, tables: Sequence[Table], rows: int) -> Iterator[None]:
    """Around a load of about ``rows`` rows: the secondary indexes of those ``tables``
    that are empty now are dropped before and built again after."""
    if rows < BULK_LOAD_MIN_ROWS:
        yield
        return
    _open_transaction(conn)
    empty = [table for table in tables if not conn.execute(select(exists(table.select()))).scalar()]
    indexes = [index for table in empty for index in table.indexes]
    for index in indexes:
        index.drop(conn)
    yield
    for index in indexes:
        index.create(conn)
    if conn.dialect.name == "postgresql":
        for table in empty:
            # Our own table names, never input.
            conn.exec_driver_sql(f"ANALYZE {table.name}")


def _open_transaction(conn: Connection) -> None:
    """Python's sqlite3 opens a transaction only before a data change, and runs DDL
    outside one (autocommitted); a dropped index must roll back with a failed load."""
    if conn.dialect.name != "sqlite":
        return
    raw = conn.connection.dbapi_connection
    if raw is not None and not raw.in_transaction:
        conn.exec_driver_sql("BEGIN")
