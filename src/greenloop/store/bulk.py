"""Fast bulk writes for the sync's and the eCom import's hot paths.

SQLAlchemy's per-row parameter processing dominated a 200,000-sale sync (about 70% of
database time in a profile). Here each column's own bind processor (the same function
SQLAlchemy would call: ``Money`` → text on SQLite, JSON → serialised, …) is looked up
once per table, rows become tuples, and the driver's ``executemany`` runs one prepared
statement. The SQL is the portable subset both SQLite (≥ 3.24) and PostgreSQL accept.

:func:`insert_stored` goes one step further for rows that are already in stored form
(text, integers, ``None``): no processor runs at all. ``Money`` columns then take the
canonical text of a ``Decimal`` and ``UtcDateTime`` columns ISO-8601 UTC text with
microseconds, exactly what their processors produce on SQLite; PostgreSQL casts such
text to ``NUMERIC`` and ``timestamptz`` losslessly.

On PostgreSQL, :func:`bulk_insert` and :func:`bulk_upsert` send a batch of
:data:`COPY_MIN_ROWS` rows or more with ``COPY`` (the same processed values, dumped by
psycopg as text): an insert straight into its table, an upsert into a temporary staging
table first and then one ``INSERT … SELECT … ON CONFLICT DO UPDATE`` with the same
``WHERE`` guard, in the caller's transaction. A 1,000-sale page spent most of its
database time in per-row round trips of ``executemany``; ``COPY`` streams them.
:func:`copy_counts` tells how many rows went that way (the sync benchmark prints it).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, Dialect, Table

__all__ = [
    "COPY_MIN_ROWS",
    "bulk_insert",
    "bulk_update",
    "bulk_upsert",
    "copy_counts",
    "insert_stored",
    "placeholders",
]

Processor = Callable[[Any], Any] | None

# Below this many rows a batch goes by ``executemany``: a webhook's one sale would pay
# more for a temporary table than ``COPY`` saves it.
COPY_MIN_ROWS = 64

# Rows sent by ``COPY`` in this process, per table (read by benchmarks/sync.py).
_copied: Counter[str] = Counter()


def copy_counts() -> dict[str, int]:
    """Rows :func:`bulk_insert` and :func:`bulk_upsert` sent by ``COPY``, per table."""
    return dict(_copied)


def _use_copy(conn: Connection, rows: Sequence[Any]) -> bool:
    return conn.dialect.name == "postgresql" and len(rows) >= COPY_MIN_ROWS


@cache
def _processors(table: Table, columns: tuple[str, ...], dialect: Dialect) -> tuple[Processor, ...]:
    return tuple(table.c[name].type._cached_bind_processor(dialect) for name in columns)


def _placeholder(dialect: Dialect) -> str:
    return "?" if dialect.paramstyle == "qmark" else "%s"


def placeholders(conn: Connection, count: int) -> str:
    """``count`` positional parameter marks for driver SQL, comma-separated."""
    return ", ".join([_placeholder(conn.dialect)] * count)


def any_of(conn: Connection, column: str, values: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
    """Driver SQL for ``column`` equal to any of ``values``, with its parameters. On
    PostgreSQL one array parameter: a list of 2,000 parameters is parsed and planned at
    every execution (12–20 ms for an order-number look-up, 7–9 ms as an array)."""
    if conn.dialect.name == "postgresql":
        return f"{column} = ANY(%s)", (list(values),)
    return f"{column} IN ({placeholders(conn, len(values))})", tuple(values)


def _tuples(
    rows: Sequence[Sequence[Any]], processors: tuple[Processor, ...]
) -> list[tuple[Any, ...]]:
    """The rows with each column's processor applied, column by column (``map`` over a
    column costs about half of a Python loop over every row's values)."""
    active = [(i, p) for i, p in enumerate(processors) if p is not None]
    if not active:
        return [tuple(row) for row in rows]
    columns: list[Any] = list(zip(*rows, strict=True))
    for i, process in active:
        columns[i] = map(process, columns[i])
    return list(zip(*columns, strict=True))


def _insert_sql(table: Table, columns: Sequence[str], dialect: Dialect) -> str:
    marks = ", ".join([_placeholder(dialect)] * len(columns))
    # Table and column names come from our own schema, never from input.
    return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608


def bulk_insert(
    conn: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert rows given as sequences in ``columns`` order."""
    if not rows:
        return
    dialect = conn.dialect
    params = _tuples(rows, _processors(table, columns, dialect))
    if _use_copy(conn, params):
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            _copy_rows(cursor, table.name, columns, params)
        finally:
            cursor.close()
        _copied[table.name] += len(params)
        return
    conn.exec_driver_sql(_insert_sql(table, columns, dialect), params)


def bulk_upsert(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    *,
    version_guard: bool = True,
) -> int:
    """Insert or update by primary key; with ``version_guard`` an older row never wins.

    Returns how many rows were inserted or updated (a guarded-off row counts none; on
    the ``COPY`` path a key given twice counts once).
    """
    if not rows:
        return 0
    dialect = conn.dialect
    keys = [c.name for c in table.primary_key.columns]
    sets = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    conflict = f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
    if version_guard:
        conflict += f" WHERE {table.name}.version < excluded.version"
    params = _tuples(rows, _processors(table, columns, dialect))
    if _use_copy(conn, params):
        return _copy_upsert(conn, table, columns, params, keys, conflict, version_guard)
    result = conn.exec_driver_sql(f"{_insert_sql(table, columns, dialect)} {conflict}", params)
    return int(result.rowcount)


def bulk_update(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    *,
    expected: tuple[str, ...] = (),
) -> None:
    """Set ``columns`` of existing rows, given as sequences in ``columns`` order (the
    primary key among them); the other columns stay as they are. A row whose key is not
    stored is ignored. With ``expected`` each row carries, after its ``columns`` values,
    the values these columns must still hold for it to be updated (a row changed by
    another writer since it was read is left as that writer left it).

    On PostgreSQL a batch of :data:`COPY_MIN_ROWS` or more goes by ``COPY`` into a
    temporary table of just these columns (``LIKE`` would bring the table's ``NOT
    NULL`` columns that are not sent), then one ``UPDATE … FROM``.
    """
    if not rows:
        return
    dialect = conn.dialect
    keys = [c.name for c in table.primary_key.columns]
    sets = [c for c in columns if c not in keys]
    params = _tuples(rows, _processors(table, (*columns, *expected), dialect))
    if _use_copy(conn, params):
        _copy_update(conn, table, columns, params, keys, sets, expected)
        return
    mark = _placeholder(dialect)
    width = len(columns)
    order = [columns.index(c) for c in (*sets, *keys)] + list(range(width, width + len(expected)))
    assign = ", ".join(f"{c} = {mark}" for c in sets)
    match = " AND ".join(f"{k} = {mark}" for k in (*keys, *expected))
    # Names come from our own schema, never from input.
    sql = f"UPDATE {table.name} SET {assign} WHERE {match}"  # noqa: S608
    conn.exec_driver_sql(sql, [tuple(row[i] for i in order) for row in params])


def _copy_update(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: list[tuple[Any, ...]],
    keys: list[str],
    sets: list[str],
    expected: tuple[str, ...],
) -> None:
    staged = f"{table.name}_update_staged"
    was = [f"was_{c}" for c in expected]
    picked = ", ".join([*columns, *(f"{c} AS {w}" for c, w in zip(expected, was, strict=True))])
    assign = ", ".join(f"{c} = s.{c}" for c in sets)
    match = " AND ".join(
        [
            *(f"{table.name}.{k} = s.{k}" for k in keys),
            *(f"{table.name}.{c} = s.{w}" for c, w in zip(expected, was, strict=True)),
        ]
    )
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"DROP TABLE IF EXISTS {staged}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {staged} ON COMMIT DROP AS "  # noqa: S608
            f"SELECT {picked} FROM {table.name} WITH NO DATA"
        )
        _copy_rows(cursor, staged, [*columns, *was], rows)
        cursor.execute(
            f"UPDATE {table.name} SET {assign} FROM {staged} AS s WHERE {match}"  # noqa: S608
        )
        cursor.execute(f"DROP TABLE {staged}")
    finally:
        cursor.close()
    _copied[table.name] += len(rows)


def _copy_rows(cursor: Any, target: str, columns: Sequence[str], rows: Sequence[Any]) -> None:
    with cursor.copy(f"COPY {target} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _as_executemany_would(
    rows: list[tuple[Any, ...]], key: list[int], version: int | None
) -> list[tuple[Any, ...]]:
    """One row per key, the one ``executemany`` would leave: with a version, the first
    row of the highest version (an equal one does not pass the guard); else the last.
    One ``INSERT … SELECT`` may not update a row twice."""
    kept: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for row in rows:
        k = tuple(row[i] for i in key)
        old = kept.get(k) if version is not None else None
        if old is not None and row[version] <= old[version]:  # type: ignore[index]
            continue
        kept[k] = row
    return list(kept.values()) if len(kept) < len(rows) else rows


def _copy_upsert(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: list[tuple[Any, ...]],
    keys: list[str],
    conflict: str,
    version_guard: bool,
) -> int:
    """PostgreSQL: ``COPY`` into a staging table (``ON COMMIT DROP``, emptied after each
    use), then one upsert from it in key order (writers lock rows in one order)."""
    rows = _as_executemany_would(
        rows,
        [columns.index(k) for k in keys],
        columns.index("version") if version_guard else None,
    )
    names = ", ".join(columns)
    staged = f"{table.name}_upsert_staged"
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {staged} "
            f"(LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        _copy_rows(cursor, staged, columns, rows)
        cursor.execute(
            f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {staged} "  # noqa: S608
            f"ORDER BY {', '.join(keys)} {conflict}"
        )
        written = int(cursor.rowcount)
        cursor.execute(f"TRUNCATE {staged}")
    finally:
        cursor.close()
    _copied[table.name] += len(rows)
    return written


def insert_stored(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    *,
    upsert_unless_newer: str | None = None,
) -> None:
    """Insert rows already in stored form, in ``columns`` order.

    With ``upsert_unless_newer`` (a column name) a row whose primary key exists replaces
    it, unless the stored row's value in that column is newer than the incoming one.
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        _copy_stored(conn, table, columns, rows, upsert_unless_newer)
        return
    if conn.dialect.name == "sqlite":
        _bind_none_directly()
    sql = _insert_sql(table, columns, conn.dialect)
    if upsert_unless_newer is not None:
        sql += f" {_on_conflict(table, columns, upsert_unless_newer)}"
    conn.exec_driver_sql(sql, rows if isinstance(rows, list) else list(rows))


def _on_conflict(table: Table, columns: tuple[str, ...], newer: str) -> str:
    keys = [c.name for c in table.primary_key.columns]
    sets = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    guard = f"{table.name}.{newer} <= excluded.{newer}"
    return f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets} WHERE {guard}"


def _copy_stored(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    newer: str | None,
) -> None:
    """PostgreSQL: ``COPY`` instead of one INSERT per row (several times faster); an
    upsert goes through a temporary table that lives until the transaction ends."""
    names = ", ".join(columns)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    target = table.name
    if newer is not None:
        target = f"{table.name}_incoming"
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {target} "
            f"(LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DROP"
        )
    with cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    if newer is not None:
        cursor.execute(
            f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {target} "  # noqa: S608
            f"{_on_conflict(table, columns, newer)}"
        )
        cursor.execute(f"TRUNCATE {target}")
    cursor.close()


def _unchanged(value: None) -> None:
    return value


@cache
def _bind_none_directly() -> None:
    """Spare ``sqlite3`` its slow path for ``None`` parameters.

    ``sqlite3`` binds str, int, float and bytes directly, but runs anything else,
    ``None`` included, through the adapter protocol, whose failed ``__conform__``
    look-up formats an ``AttributeError`` per value: about 4% of an eCom import's
    database time. An adapter registered for ``NoneType`` short-cuts that and returns
    the value unchanged, so every caller in the process still binds ``None`` as NULL.
    """
    sqlite3.register_adapter(type(None), _unchanged)
