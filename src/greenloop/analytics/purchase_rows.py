"""Every sale and eCom order merged into purchase rows, read while identity is clustered.

A full analysis needs two things that do not depend on each other until the very end:
who is who (identity, from profiles and eCom buyers) and what was bought (a million
sales merged with their twins, returns and payments). Each takes about ten seconds on
a large store, in one process. With a second CPU the purchases are read and merged in
a forked process while the parent clusters.

That process also groups the rows by customer (:class:`Grouped`), so the parent
attributes two hundred thousand groups to persons rather than a million rows, and it
sends each timeline entry as text (:data:`~greenloop.analytics.outcome.RawEntry`: the
moment as ISO-8601, the value as its ``Decimal`` text; both round-trip exactly). Text
is all a person carried over needs (their fingerprint is taken of it); only the persons
computed again have theirs parsed (:func:`parse_entries`). On a day's run that is a few
thousand persons, not a million entries.

If the forked process fails, the parent reads the purchases itself, so an error (a
damaged database, say) surfaces as the same exception the one-process path raises.
"""

from __future__ import annotations

import marshal
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, text

from greenloop.analytics.compute import MemberIndex
from greenloop.analytics.outcome import Entry, RawEntry
from greenloop.domain.identity import IdentityRules, normalise_email
from greenloop.domain.purchases import (
    CountingRules,
    OrderFact,
    PurchaseRow,
    statuses_needing_payments,
    stream_purchases,
)
from greenloop.process.forked import Forked, can_fork
from greenloop.store.purchase_facts import (
    load_order_facts,
    load_payments,
    load_return_originals,
    stream_sale_rows,
)

__all__ = [
    "Grouped",
    "PurchaseReader",
    "buyer_of",
    "entries_by_person",
    "group_rows",
    "parse_entries",
    "read_purchase_rows",
]

# Below this many sales a second process costs more than it saves.
FORK_MIN_SALES = 200_000


def read_purchase_rows(
    conn: Connection, orders: Sequence[OrderFact], counting: CountingRules
) -> Iterator[PurchaseRow]:
    """Every purchase row, merged one sale at a time (see ``stream_purchases``)."""
    originals = load_return_originals(conn)
    payments = load_payments(conn, statuses_needing_payments(counting))
    sales, typed = stream_sale_rows(conn)
    return stream_purchases(sales, orders, counting, originals, payments, typed)


# A purchase row without a customer: its email and order number (which decide whom it
# belongs to once identity is known), its position in the stream, its entry (None when
# it does not count or has no moment).
Other = tuple[str | None, str | None, int, RawEntry | None]


@dataclass
class Grouped:
    """The purchase rows, in ``stream_purchases``' order, grouped by the customer they
    name (most of them) with their positions in that order, so that a person with
    several members gets their entries back in it."""

    # Customer id → how many rows name them, counted or not.
    rows: dict[str, int] = field(default_factory=dict)
    # Customer id → their counted entries with a moment, and those entries' positions
    # (``array("q")`` bytes: 8 bytes a position, where an int in a list takes 36).
    entries: dict[str, list[RawEntry]] = field(default_factory=dict)
    positions: dict[str, bytes] = field(default_factory=dict)
    others: list[Other] = field(default_factory=list)

    def packed(self, customers: int = 20_000) -> Iterator[bytes]:
        """The groups as ``marshal`` parts of ``customers`` customers each (the rows
        without one go with the first), so that the receiver never holds the whole
        packed beside what it unpacked."""
        keys = list(self.rows)
        for start in range(0, max(len(keys), 1), customers):
            part = keys[start : start + customers]
            entries = {k: self.entries[k] for k in part if k in self.entries}
            yield marshal.dumps(
                (
                    {k: self.rows[k] for k in part},
                    entries,
                    {k: self.positions[k] for k in entries},
                    [] if start else self.others,
                )
            )

    def add(self, part: bytes) -> None:
        """One part of :meth:`packed`, unpacked into these groups."""
        rows, entries, positions, others = marshal.loads(part)  # noqa: S302 (our own fork)
        self.rows.update(rows)
        self.entries.update(entries)
        self.positions.update(positions)
        self.others.extend(others)


def group_rows(rows: Iterable[PurchaseRow]) -> Grouped:
    """The purchase rows grouped (:class:`Grouped`), each entry as text."""
    grouped = Grouped()
    counts_of, entries, others = grouped.rows, grouped.entries, grouped.others
    positions: dict[str, list[int]] = {}
    for position, (customer, email, number, at, counts, flags, value) in enumerate(rows):
        entry = None
        if counts and at is not None:
            # As stored (text) or typed: either way text that parses back exactly.
            at_text = at if isinstance(at, str) else at.isoformat()
            entry = (at_text, value if isinstance(value, str) else str(value), flags)
        if customer is None:
            others.append((email, number, position, entry))
            continue
        counts_of[customer] = counts_of.get(customer, 0) + 1
        if entry is not None:
            found = entries.get(customer)
            if found is None:
                entries[customer] = [entry]
                positions[customer] = [position]
            else:
                found.append(entry)
                positions[customer].append(position)
    grouped.positions = {key: array("q", at).tobytes() for key, at in positions.items()}
    return grouped


def parse_entries(entries: Iterable[RawEntry]) -> list[Entry]:
    """Entries as text, back to moments and amounts (exactly the ones read)."""
    moment = datetime.fromisoformat
    return [(moment(at), Decimal(value), flags) for at, value, flags in entries]


class PurchaseReader:
    """Starts reading and grouping the purchase rows in a forked process (when worth
    it); :meth:`grouped` gives them, from that process or read here.

    Started before the parent loads the profiles and orders: the forked process loads
    the orders itself, so its reading overlaps the parent's loading as well as its
    clustering."""

    def __init__(self, engine: Engine, counting: CountingRules, cpus: int) -> None:
        self._engine = engine
        self._counting = counting
        self._worker: Forked | None = None
        if not can_fork(cpus):
            return
        with engine.connect() as conn:
            sales = conn.execute(text("SELECT count(*) FROM sales")).scalar_one()
        if sales < FORK_MIN_SALES:
            return
        self._worker = Forked(self._send_rows)

    def grouped(self, conn: Connection, orders: Sequence[OrderFact]) -> Grouped:
        """The purchase rows grouped; ``conn`` reads them here, merged with ``orders``,
        when no forked process did."""
        received = self._received(self._worker) if self._worker is not None else None
        if received is None:
            return group_rows(read_purchase_rows(conn, orders, self._counting))
        return received

    def close(self) -> None:
        """Stops the forked process if its rows were never taken (an earlier stage failed)."""
        if self._worker is not None:
            self._worker.close()

    @staticmethod
    def _received(worker: Forked) -> Grouped | None:
        """What the forked process sent, or None when it did not finish."""
        grouped = Grouped()
        try:
            while part := worker.receive():
                grouped.add(part)
        except EOFError:
            return None
        finally:
            worker.done()
        return grouped

    def _send_rows(self, send: Any) -> None:
        # The parent's pooled connections must not be used here: a fresh pool, same engine.
        self._engine.dispose(close=False)
        with self._engine.connect() as conn:
            orders = list(load_order_facts(conn))
            grouped = group_rows(read_purchase_rows(conn, orders, self._counting))
        # Sent only once all is read: the parent reads the pipe after clustering. Every
        # part is packed before the first is sent: this process is done reading seconds
        # before the parent finishes clustering (2 s of 10, and 6 s of 24 on a slower
        # machine, on 200,000 profiles), so packing here then costs the parent nothing,
        # where packing part by part as the parent reads made it wait 0.3 s more. The
        # empty message after the parts says the whole was sent.
        parts = list(grouped.packed())
        del grouped
        for part in parts:
            send.send_bytes(part)
        send.send_bytes(b"")
        send.close()


def buyer_of(
    email: str | None,
    number: str | None,
    index: MemberIndex,
    assignment: Mapping[str, str],
    rules: IdentityRules,
) -> str | None:
    """The person of a purchase row without a customer: its eCom buyer's email when
    that is a member, else its order's own member (:func:`member_of`'s rules)."""
    normal = normalise_email(email, rules)
    if normal is not None and normal in index.email_members:
        return assignment.get(f"email:{normal}")
    if number is not None:
        return assignment.get(f"order:{number}")
    return None


def entries_by_person(
    grouped: Grouped,
    index: MemberIndex,
    assignment: Mapping[str, str],
    rules: IdentityRules,
) -> tuple[dict[str, list[RawEntry]], int, int]:
    """Each person's counted purchases and returns as timeline entries (as text), in
    the order read, from the grouped purchase rows (:func:`member_of`'s rules, without
    building each purchase); with the number of purchases and of those that belong to
    nobody."""
    by_customer = {
        key.removeprefix("customer:"): pid
        for key, pid in assignment.items()
        if key.startswith("customer:")
    }
    entries: dict[str, list[RawEntry]] = {}
    # A person fed by one group keeps that group's lists; one fed by several gets lists
    # of its own, with the positions to put them back in the order read.
    first_at: dict[str, bytes] = {}
    several: dict[str, array[int]] = {}

    def add(pid: str, found: list[RawEntry], at: bytes) -> None:
        have = entries.get(pid)
        if have is None:
            entries[pid], first_at[pid] = found, at
            return
        positions = several.get(pid)
        if positions is None:
            entries[pid] = have + found
            positions = several[pid] = array("q", first_at[pid])
        else:
            have.extend(found)
        positions.frombytes(at)

    total = unattributed = 0
    grouped_entries, grouped_positions = grouped.entries, grouped.positions
    for customer_id, count in grouped.rows.items():
        total += count
        pid = by_customer.get(customer_id)
        if pid is None:
            unattributed += count
        elif customer_id in grouped_entries:
            add(pid, grouped_entries[customer_id], grouped_positions[customer_id])
    for email, number, position, entry in grouped.others:
        total += 1
        pid = buyer_of(email, number, index, assignment, rules)
        if pid is None:
            unattributed += 1
        elif entry is not None:
            add(pid, [entry], array("q", [position]).tobytes())
    for pid, at in several.items():
        found = entries[pid]
        entries[pid] = [found[k] for k in sorted(range(len(at)), key=at.__getitem__)]
    return entries, total, unattributed
