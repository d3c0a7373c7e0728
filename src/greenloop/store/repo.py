"""Repository functions for X-Series facts and sync cursors.

Every function takes a ``Connection`` and never commits: the caller owns the
transaction (one ``engine.begin()`` per page, so a page's rows and its cursor commit
together or not at all). Upserts are idempotent and version-guarded: re-applying an
object is a no-op, and an older ``version`` never overwrites a newer one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from greenloop.errors import StoreError
from greenloop.store import tables as t
from greenloop.store.bulk import any_of, bulk_insert, bulk_upsert

__all__ = [
    "UpsertCounts",
    "changed_since",
    "customer_versions_after",
    "get_cursor",
    "get_cursors",
    "set_cursor",
    "upsert_retailer",
    "upsert_sales",
    "upsert_versioned",
]


@dataclass
class UpsertCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: UpsertCounts) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged


def _upsert_statement(conn: Connection, table: Table, *, guard: bool) -> Any:
    dialect = conn.dialect.name
    stmt: Any
    if dialect == "sqlite":
        stmt = sqlite.insert(table)
    elif dialect == "postgresql":
        stmt = postgresql.insert(table)
    else:  # pragma: no cover - make_engine only builds the two supported engines
        raise StoreError(
            f"unsupported database '{dialect}'", hint="Use SQLite or PostgreSQL (database.url)."
        )
    keys = [c.name for c in table.primary_key.columns]
    updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    where = table.c.version < stmt.excluded.version if guard else None
    return stmt.on_conflict_do_update(index_elements=keys, set_=updates, where=where)


# Ids per ``IN (...)`` list: SQLite allows 999 parameters per statement in old builds.
_IN_CHUNK = 900


def _existing_versions(conn: Connection, table: Table, ids: Sequence[str]) -> dict[str, int]:
    # Driver SQL: SQLAlchemy renders an expanding IN's parameters one by one at every
    # execution, and a sync page has a thousand ids (about 5% of a first sync).
    found: dict[str, int] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        matching, params = any_of(conn, "id", ids[start : start + _IN_CHUNK])
        # Only parameter marks are interpolated (and our own table name).
        rows = conn.exec_driver_sql(
            f"SELECT id, version FROM {table.name} WHERE {matching}",  # noqa: S608
            params,
        )
        found.update((key, version) for key, version in rows)
    return found


def _delete_children(conn: Connection, sale_ids: Sequence[str]) -> None:
    for start in range(0, len(sale_ids), _IN_CHUNK):
        matching, params = any_of(conn, "sale_id", sale_ids[start : start + _IN_CHUNK])
        for table in (t.sale_line_items, t.sale_payments):
            conn.exec_driver_sql(f"DELETE FROM {table.name} WHERE {matching}", params)  # noqa: S608


def _split_by_version(
    conn: Connection, table: Table, objects: Sequence[Any]
) -> tuple[list[Any], UpsertCounts, dict[str, int]]:
    """The objects that are new or newer than what is stored (last copy per id wins),
    their counts, and the stored versions they were compared with."""
    latest: dict[str, Any] = {}
    for obj in objects:
        kept = latest.get(obj.id)
        if kept is None or obj.version > kept.version:
            latest[obj.id] = obj
    existing = _existing_versions(conn, table, list(latest))
    counts = UpsertCounts()
    changed = []
    for obj in latest.values():
        stored = existing.get(obj.id)
        if stored is None:
            counts.new += 1
            changed.append(obj)
        elif obj.version > stored:
            counts.updated += 1
            changed.append(obj)
        else:
            counts.unchanged += 1
    counts.unchanged += len(objects) - len(latest)
    return changed, counts, existing


def upsert_versioned(conn: Connection, table: Table, objects: Sequence[Any]) -> UpsertCounts:
    """Upsert flat model objects (outlets, registers, users, groups, customers)."""
    if not objects:
        return UpsertCounts()
    changed, counts, _known = _split_by_version(conn, table, objects)
    if changed:
        names = _columns(table)
        bulk_upsert(conn, table, names, list(map(attrgetter(*names), changed)))
    return counts


def _columns(table: Table, *, besides: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The columns a fact object fills: each is an attribute of the same name (the
    X-Series models are shaped after these tables; a test holds the two together)."""
    return tuple(c.name for c in table.columns if c.name not in besides)


_SALE_COLUMNS = _columns(t.sales)
_ITEM_COLUMNS = _columns(t.sale_line_items, besides=("sale_id",))
_PAYMENT_COLUMNS = _columns(t.sale_payments, besides=("sale_id",))
_RETAILER_COLUMNS = _columns(t.retailer, besides=("fetched_at",))
# One C call reads a fact's columns in order (the models' attributes are the columns).
_sale_values = attrgetter(*_SALE_COLUMNS)
_item_values = attrgetter(*_ITEM_COLUMNS)
_payment_values = attrgetter(*_PAYMENT_COLUMNS)


def upsert_sales(conn: Connection, sales: Sequence[Any]) -> UpsertCounts:
    """Upsert sales with their line items and payments, replacing the children of any
    sale whose stored copy is older."""
    if not sales:
        return UpsertCounts()
    changed, counts, known = _split_by_version(conn, t.sales, sales)
    if not changed:
        return counts
    attributes = _SALE_COLUMNS.index("attributes")
    sale_rows = []
    for sale in changed:
        row = list(_sale_values(sale))
        row[attributes] = list(sale.attributes)
        sale_rows.append(row)
    # The sale rows first: on PostgreSQL the upsert locks each sale row, waiting for any
    # other writer of the same sale (the webhook worker, a push's refresh) to commit.
    # Only then are the children deleted, by a statement that sees that writer's rows,
    # so re-inserting them cannot collide with its copy (it did: a UniqueViolation on
    # sale_line_items when two writers stored one new sale at once). SQLite takes its
    # write lock at the first write, so the order is safe there too.
    written = bulk_upsert(conn, t.sales, _SALE_COLUMNS, sale_rows)
    if written < len(changed):
        # The guard kept some stored rows: that writer stored an equal or newer copy
        # meanwhile, and a newer copy keeps its own children. The upsert locked every
        # row it touched or skipped, so this read holds until commit.
        stored = _existing_versions(conn, t.sales, [sale.id for sale in changed])
        ours = [sale for sale in changed if stored.get(sale.id) == sale.version]
        kept = {sale.id for sale in ours}
        for sale in changed:
            if sale.id not in kept:
                counts.unchanged += 1
                if sale.id in known:
                    counts.updated -= 1
                else:
                    counts.new -= 1
        changed = ours
    # Delete children of every changed sale, not only the known-existing ones: another
    # writer may have stored the sale since we looked.
    _delete_children(conn, [sale.id for sale in changed])
    bulk_insert(
        conn,
        t.sale_line_items,
        ("sale_id", *_ITEM_COLUMNS),
        [(s.id, *_item_values(i)) for s in changed for i in s.line_items],
    )
    bulk_insert(
        conn,
        t.sale_payments,
        ("sale_id", *_PAYMENT_COLUMNS),
        [(s.id, *_payment_values(p)) for s in changed for p in s.payments],
    )
    return counts


def upsert_retailer(conn: Connection, retailer: Any, fetched_at: datetime) -> UpsertCounts:
    """The retailer has no integer version; replace it when anything differs."""
    row = {name: getattr(retailer, name) for name in _RETAILER_COLUMNS}
    current = conn.execute(select(t.retailer).where(t.retailer.c.id == retailer.id)).first()
    if current is not None and all(current._mapping[k] == v for k, v in row.items()):
        return UpsertCounts(unchanged=1)
    conn.execute(
        _upsert_statement(conn, t.retailer, guard=False), [{**row, "fetched_at": fetched_at}]
    )
    return UpsertCounts(new=1) if current is None else UpsertCounts(updated=1)


def get_cursor(conn: Connection, resource: str) -> int:
    row = conn.execute(
        select(t.sync_cursors.c.version).where(t.sync_cursors.c.resource == resource)
    ).first()
    return int(row.version) if row else 0


def get_cursors(conn: Connection) -> dict[str, int]:
    return {row.resource: int(row.version) for row in conn.execute(select(t.sync_cursors))}


def set_cursor(conn: Connection, resource: str, version: int, now: datetime) -> None:
    stmt = _upsert_statement(conn, t.sync_cursors, guard=False)
    conn.execute(stmt, [{"resource": resource, "version": version, "updated_at": now}])


def reset_cursors(conn: Connection, resources: Iterable[str]) -> None:
    conn.execute(delete(t.sync_cursors).where(t.sync_cursors.c.resource.in_(list(resources))))


def changed_since(
    conn: Connection, before: dict[str, int]
) -> tuple[list[str], list[tuple[str, str]]]:
    """What a sync stored past the cursors ``before``: the customers concerned (changed
    profiles and the customers of changed sales) and the objects as (webhook type, id)."""
    c, s = t.customers.c, t.sales.c
    changed = list(
        conn.execute(select(c.id).where(c.version > before.get("customers", 0))).scalars()
    )
    sales = conn.execute(
        select(s.id, s.customer_id).where(s.version > before.get("sales", 0))
    ).all()
    objects = [("customer.update", cid) for cid in changed]
    objects += [("sale.update", row.id) for row in sales]
    customers = sorted(set(changed) | {r.customer_id for r in sales if r.customer_id})
    return customers, objects


def customer_versions_after(conn: Connection, version: int) -> list[tuple[str, int]]:
    """(id, version) of every customer stored with a version past ``version``."""
    c = t.customers.c
    return [
        (row.id, int(row.version))
        for row in conn.execute(select(c.id, c.version).where(c.version > version))
    ]
