"""Every sale and eCom order merged into purchase rows, read while identity is clustered.

A full analysis needs two things that do not depend on each other until the very end:
who is who (identity, from profiles and eCom buyers) and what was bought (a million
sales merged with their twins, returns and payments). Each takes about ten seconds on
a large store, in one process. With a second CPU the purchases are read and merged in
a forked process while the parent clusters; the rows come back as ``marshal`` text
(moments as ISO-8601, money as its ``Decimal`` text, both round-trip exactly), and the
parent only attributes them to persons.

If the forked process fails, the parent reads the purchases itself, so an error (a
damaged database, say) surfaces as the same exception the one-process path raises.
"""

from __future__ import annotations

import marshal
import multiprocessing
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, text

from greenloop.analytics.compute import MemberIndex
from greenloop.analytics.options import AnalyzeOptions
from greenloop.analytics.outcome import Entry
from greenloop.domain.identity import normalise_email
from greenloop.domain.purchases import (
    CountingRules,
    OrderFact,
    PurchaseRow,
    statuses_needing_payments,
    stream_purchases,
)
from greenloop.store.purchase_facts import (
    load_order_facts,
    load_payments,
    load_return_originals,
    stream_sale_rows,
)

__all__ = ["PurchaseReader", "entries_by_person", "read_purchase_rows"]

# Below this many sales a second process costs more than it saves.
FORK_MIN_SALES = 200_000
_CHUNK = 100_000


def read_purchase_rows(
    conn: Connection, orders: Sequence[OrderFact], counting: CountingRules
) -> Iterator[PurchaseRow]:
    """Every purchase row, merged one sale at a time (see ``stream_purchases``)."""
    originals = load_return_originals(conn)
    payments = load_payments(conn, statuses_needing_payments(counting))
    return stream_purchases(stream_sale_rows(conn), orders, counting, originals, payments)


class PurchaseReader:
    """Starts reading the purchase rows in a forked process (when worth it); :meth:`rows`
    gives them, from that process or read here.

    Started before the parent loads the profiles and orders: the forked process loads
    the orders itself, so its reading overlaps the parent's loading as well as its
    clustering."""

    def __init__(self, engine: Engine, counting: CountingRules, cpus: int) -> None:
        self._engine = engine
        self._counting = counting
        self._receive: Any = None
        self._worker: Any = None
        if cpus < 2 or "fork" not in multiprocessing.get_all_start_methods():
            return
        with engine.connect() as conn:
            sales = conn.execute(text("SELECT count(*) FROM sales")).scalar_one()
        if sales < FORK_MIN_SALES:
            return
        fork = multiprocessing.get_context("fork")
        self._receive, send = fork.Pipe(duplex=False)
        self._worker = fork.Process(target=self._send_rows, args=(send,), daemon=True)
        self._worker.start()
        send.close()

    def rows(self, conn: Connection, orders: Sequence[OrderFact]) -> Iterator[PurchaseRow]:
        """The purchase rows, in ``stream_purchases``' order; ``conn`` reads them here,
        merged with ``orders``, when no forked process did."""
        chunks = self._received() if self._worker is not None else None
        if chunks is None:
            yield from read_purchase_rows(conn, orders, self._counting)
            return
        parse_time = datetime.fromisoformat
        for chunk in chunks:
            rows = marshal.loads(chunk)  # noqa: S302 (our own forked child)
            for customer, email, number, at, counts, flags, value in rows:
                moment = None if at is None else parse_time(at)
                yield customer, email, number, moment, counts, flags, Decimal(value)

    def close(self) -> None:
        """Stops the forked process if its rows were never taken (an earlier stage failed)."""
        if self._worker is not None and self._worker.is_alive():
            self._worker.terminate()
            self._worker.join()
        if self._receive is not None:
            self._receive.close()

    def _received(self) -> list[bytes] | None:
        """Every chunk the forked process sent, or None when it did not finish."""
        chunks: list[bytes] = []
        try:
            while chunk := self._receive.recv_bytes():
                chunks.append(chunk)
        except EOFError:
            return None
        finally:
            self._receive.close()
            self._worker.join()
        return chunks

    def _send_rows(self, send: Any) -> None:
        # The parent's pooled connections must not be used here: a fresh pool, same engine.
        self._engine.dispose(close=False)
        chunks: list[bytes] = []
        batch: list[tuple[Any, ...]] = []
        with self._engine.connect() as conn:
            orders = list(load_order_facts(conn))
            for customer, email, number, at, counts, flags, value in read_purchase_rows(
                conn, orders, self._counting
            ):
                moment = None if at is None else at.isoformat()
                batch.append((customer, email, number, moment, counts, flags, str(value)))
                if len(batch) >= _CHUNK:
                    chunks.append(marshal.dumps(batch))
                    batch = []
        chunks.append(marshal.dumps(batch))
        # Sent only once all is read: the parent reads the pipe after clustering.
        for chunk in chunks:
            send.send_bytes(chunk)
        send.send_bytes(b"")
        send.close()


def entries_by_person(
    rows: Iterable[PurchaseRow],
    index: MemberIndex,
    assignment: Mapping[str, str],
    options: AnalyzeOptions,
) -> tuple[dict[str, list[Entry]], int, int]:
    """Each person's counted purchases and returns as timeline entries, from the merged
    purchase rows (:func:`member_of`'s rules, without building each purchase); with the
    number of purchases and of those that belong to nobody."""
    rules = options.identity
    by_customer = {
        key.removeprefix("customer:"): pid
        for key, pid in assignment.items()
        if key.startswith("customer:")
    }
    email_members = index.email_members
    entries: dict[str, list[Entry]] = defaultdict(list)
    total = unattributed = 0
    for customer_id, email, number, at, counts, flags, value in rows:
        total += 1
        if customer_id is not None:
            pid = by_customer.get(customer_id)
        else:
            normal = normalise_email(email, rules)
            if normal is not None and normal in email_members:
                pid = assignment.get(f"email:{normal}")
            elif number is not None:
                pid = assignment.get(f"order:{number}")
            else:
                pid = None
        if pid is None:
            unattributed += 1
        elif counts and at is not None:
            entries[pid].append((at, value, flags))
    return entries, total, unattributed
