"""Reading the facts the purchase merge needs: sales (with payments) and eCom orders."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, func, select

from greenloop.domain.purchases import OrderFact, SaleFact
from greenloop.store import tables as t
from greenloop.store.types import Money, UtcDateTime

__all__ = [
    "load_order_facts",
    "load_payments",
    "load_return_originals",
    "load_sale_facts",
    "moment_reader",
    "money_reader",
    "raw_rows",
    "stream_sale_rows",
]


def _all_rows(
    conn: Connection, table: Table, columns: Sequence[str], order_by: str
) -> Iterator[tuple[Any, ...]]:
    """Every row of ``table`` as plain tuples, through each column's own result processor.

    SQLAlchemy's Row machinery cost about 40 s for a million sales in the analyze
    benchmark; the driver's cursor with the same conversions applied here is several
    times faster. Names come from our own schema, never from input.
    """
    dialect = conn.dialect
    processors = [table.c[name].type._cached_result_processor(dialect, None) for name in columns]
    active = [(i, f) for i, f in enumerate(processors) if f is not None]
    sql = f"SELECT {', '.join(columns)} FROM {table.name} ORDER BY {order_by}"  # noqa: S608
    cursor = conn.exec_driver_sql(sql)
    while batch := cursor.fetchmany(10_000):
        for raw in batch:
            if not active:
                yield tuple(raw)
                continue
            values = list(raw)
            for i, process in active:
                values[i] = process(values[i])
            yield tuple(values)


_SALE_COLUMNS = (
    "id",
    "customer_id",
    "status",
    "source",
    "source_id",
    "register_id",
    "note",
    "return_for",
    "sale_date",
    "created_at",
    "total_price",
    "total_tax",
    "total_price_incl",
)


def _all_sale_facts(conn: Connection) -> list[SaleFact]:
    payments: dict[str, list[tuple[str, Decimal]]] = {}
    for sale_id, name, amount in _all_rows(
        conn, t.sale_payments, ("sale_id", "name", "amount"), "sale_id, sequence"
    ):
        payments.setdefault(sale_id, []).append((name or "", amount))
    empty: tuple[tuple[str, Decimal], ...] = ()
    # Rows come in _SALE_COLUMNS order, which is SaleFact's field order.
    make: Any = SaleFact
    return [
        make(*row, tuple(payments.pop(row[0], empty)))
        for row in _all_rows(conn, t.sales, _SALE_COLUMNS, "sale_date, id")
    ]


def load_sale_facts(conn: Connection, where: ColumnElement[bool] | None = None) -> list[SaleFact]:
    if where is None and conn.dialect.name == "sqlite":
        # PostgreSQL's driver already returns Decimal and datetime; its NUMERIC result
        # processor also needs the cursor's type codes, which a raw cursor does not give.
        return _all_sale_facts(conn)
    s, sp = t.sales.c, t.sale_payments.c
    # Sales with their payments in one query (one round trip for the real-time path).
    query = (
        select(
            *_sale_head(),
            s.sale_date,
            s.created_at,
            s.total_price,
            s.total_tax,
            s.total_price_incl,
            sp.sale_id,
            sp.name,
            sp.amount,
        )
        .select_from(t.sales.outerjoin(t.sale_payments, sp.sale_id == s.id))
        .order_by(s.sale_date, s.id, sp.sequence)
    )
    if where is not None:
        query = query.where(where)
    sales: list[SaleFact] = []
    current: list[Any] | None = None
    payments: list[tuple[str, Decimal]] = []
    make: Any = SaleFact  # rows come in SaleFact's field order
    for row in conn.execute(query):
        if current is None or row[0] != current[0]:
            if current is not None:
                sales.append(make(*current, tuple(payments)))
            current, payments = list(row[:13]), []
        if row[13] is not None:
            payments.append((row[14] or "", row[15]))
    if current is not None:
        sales.append(make(*current, tuple(payments)))
    return sales


def load_order_facts(
    conn: Connection, where: ColumnElement[bool] | None = None
) -> Iterator[OrderFact]:
    if where is None and conn.dialect.name == "sqlite":
        yield from _all_order_facts(conn)
        return
    o = t.ecom_orders.c
    query = select(
        o.order_number,
        o.email,
        o.placed_at,
        o.payment_status_code,
        o.total,
        o.xseries_order_id,
        o.payment_method,
        o.phone,
        o.tax,
        o.shipping,
        o.customer_name,
    ).order_by(o.placed_at)
    if where is not None:
        query = query.where(where)
    for r in conn.execute(query):
        yield OrderFact(
            order_number=r.order_number,
            email=r.email,
            placed_at=r.placed_at,
            payment_status_code=r.payment_status_code,
            total=r.total,
            xseries_order_id=r.xseries_order_id,
            payment_method=r.payment_method,
            phone=r.phone,
            tax=r.tax or Decimal(0),
            shipping=r.shipping or Decimal(0),
            customer_name=r.customer_name,
        )


def _all_order_facts(conn: Connection) -> Iterator[OrderFact]:
    """Every order, straight from the driver (a full analysis reads them all, twice: for
    identity and beside the sales)."""
    money, moment = money_reader(conn.dialect), moment_reader(conn.dialect)
    rows = raw_rows(
        conn,
        "SELECT order_number, email, placed_at, payment_status_code, total, "
        "xseries_order_id, payment_method, phone, tax, shipping, customer_name "
        "FROM ecom_orders ORDER BY placed_at",
    )
    zero = Decimal(0)
    for number, email, at, status, total, twin_id, method, phone, tax, shipping, name in rows:
        yield OrderFact(
            number,
            email,
            moment(at),
            status,
            money(total),
            twin_id,
            method,
            phone,
            zero if tax is None else money(tax),
            zero if shipping is None else money(shipping),
            name,
        )


# -- the full analysis: every sale once, one at a time -----------------------------------

# Distinct amounts are few next to sales; sharing one Decimal per text saves the
# conversions and most of their memory. Bounded, for stores whose amounts never repeat.
_MONEY_CACHE_LIMIT = 500_000


def money_reader(dialect: Any) -> Callable[[Any], Any]:
    """Stored money → Decimal, as the Money type reads it, one Decimal per distinct text."""
    process = Money()._cached_result_processor(dialect, None)
    cache: dict[Any, Decimal] = {}

    def money(value: Any) -> Any:
        if type(value) is not str:
            return process(value) if process else value
        found = cache.get(value)
        if found is None:
            found = Decimal(value)
            if len(cache) < _MONEY_CACHE_LIMIT:
                cache[value] = found
        return found

    return money


def moment_reader(dialect: Any) -> Callable[[Any], Any]:
    """Stored moment → aware UTC datetime, as the UtcDateTime type reads it."""
    process = UtcDateTime()._cached_result_processor(dialect, None)

    def moment(value: Any) -> Any:
        if type(value) is not str:
            return process(value) if process else value
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is UTC:
            return parsed
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

    return moment


def raw_rows(conn: Connection, sql: str) -> Iterator[Sequence[Any]]:
    """The rows of a driver-level query, in batches, straight from the driver's cursor
    (SQLAlchemy's result rows cost more than the query for large reads)."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql)
        while batch := cursor.fetchmany(10_000):
            yield from batch
    finally:
        cursor.close()


def stream_sale_rows(
    conn: Connection,
) -> tuple[Iterator[Sequence[Any]], Callable[[Sequence[Any]], Sequence[Any]] | None]:
    """Every sale as a row for :func:`~greenloop.domain.purchases.stream_purchases`, in
    :func:`load_sale_facts`' order, read in batches; with the function that types a
    row's moment and amounts (its ``typed``; None: the rows come typed).

    SQLite's rows keep their moment and amounts as the stored text: ISO-8601 UTC text
    (``UtcDateTime``'s fixed-width form, or typed when it is any other) and the
    Decimal's text (``Money``)."""
    if conn.dialect.name != "sqlite":
        return _typed_sale_rows(conn), None
    money, moment = money_reader(conn.dialect), moment_reader(conn.dialect)
    rows = raw_rows(
        conn,
        "SELECT id, customer_id, status, source, source_id, register_id, note, return_for, "
        "COALESCE(sale_date, created_at), total_price, total_tax, total_price_incl "
        "FROM sales ORDER BY sale_date, id",
    )

    def stored(rows: Iterator[Sequence[Any]]) -> Iterator[Sequence[Any]]:
        for raw in rows:
            at = raw[8]
            if at is None or (type(at) is str and at.endswith(_UTC_SUFFIX)):
                yield raw
            else:
                yield (*raw[:8], moment(at), *raw[9:])

    def typed(raw: Sequence[Any]) -> Sequence[Any]:
        at, incl = raw[8], raw[11]
        return (
            *raw[:8],
            None if at is None else moment(at),
            money(raw[9]),
            money(raw[10]),
            None if incl is None else money(incl),
        )

    return stored(rows), typed


# How UtcDateTime ends the text it stores on SQLite (isoformat of a UTC moment).
_UTC_SUFFIX = "+00:00"


def _sale_head() -> tuple[ColumnElement[Any], ...]:
    """A sale's columns before its moments, in SaleFact's order."""
    s = t.sales.c
    return (
        s.id,
        s.customer_id,
        s.status,
        s.source,
        s.source_id,
        s.register_id,
        s.note,
        s.return_for,
    )


def _typed_sale_rows(conn: Connection) -> Iterator[tuple[Any, ...]]:
    s = t.sales.c
    query = select(
        *_sale_head(),
        func.coalesce(s.sale_date, s.created_at),
        s.total_price,
        s.total_tax,
        s.total_price_incl,
    ).order_by(s.sale_date, s.id)
    for row in conn.execution_options(yield_per=5_000).execute(query):
        yield tuple(row)


def load_return_originals(conn: Connection) -> dict[str, SaleFact]:
    """Every sale a return points at, and the sales those point at in turn."""
    s = t.sales.c
    found = {
        sale.id: sale
        for sale in load_sale_facts(
            conn, where=s.id.in_(select(s.return_for).where(s.return_for.is_not(None)))
        )
    }
    tried = set(found)
    missing = {x.return_for for x in found.values() if x.return_for} - tried
    while missing:
        tried |= missing
        for sale in load_sale_facts(conn, where=s.id.in_(sorted(missing))):
            found[sale.id] = sale
        missing = {x.return_for for x in found.values() if x.return_for} - tried
    return found


def load_payments(
    conn: Connection, statuses: Sequence[str] | None
) -> dict[str, tuple[tuple[str, Decimal], ...]]:
    """The payments of the sales in these statuses (None: of every sale)."""
    sp, s = t.sale_payments.c, t.sales.c
    query = select(sp.sale_id, sp.name, sp.amount)
    if statuses is not None:
        query = query.where(sp.sale_id.in_(select(s.id).where(s.status.in_(list(statuses)))))
    found: dict[str, list[tuple[str, Decimal]]] = {}
    for sale_id, name, amount in conn.execute(query.order_by(sp.sale_id, sp.sequence)):
        found.setdefault(sale_id, []).append((name or "", amount))
    return {k: tuple(v) for k, v in found.items()}
