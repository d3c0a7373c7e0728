"""The webhook inbox: deliveries stored by the receiver, claimed and settled by workers.

Functions take a ``Connection`` and never commit; the caller owns the transaction.
A row moves ``pending`` → ``processing`` (claimed) → ``done``; a failure sends it to
``failed`` with the time of its next attempt (exponential back-off), and after the
last allowed attempt to ``parked`` with its reason, out of the way of the queue.

Claiming is one ``UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING``. On PostgreSQL
the inner select takes ``FOR UPDATE SKIP LOCKED``, so concurrent workers each get
different rows without waiting on each other. SQLite serialises writers, so the one
statement is already atomic there (the design runs one worker on SQLite).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from greenloop.store import tables as t

__all__ = [
    "CLAIMABLE",
    "Delivery",
    "InboxRow",
    "InboxStats",
    "StoreResult",
    "backoff_delay",
    "claim_batch",
    "dedupe_key",
    "fail",
    "inbox_stats",
    "list_rows",
    "mark_done",
    "prune_done",
    "queue_refreshed_customers",
    "record_poll_catches",
    "release_claims",
    "release_stale",
    "requeue_parked",
    "store_delivery",
]

CLAIMABLE = ("pending", "failed")
_inbox = t.webhook_inbox
_c = _inbox.c


@dataclass(frozen=True)
class Delivery:
    """One accepted webhook request, ready to store."""

    type: str
    object_id: str
    payload: str
    body: bytes
    content_type: str | None
    endpoint: str
    signature_encoding: str
    first_seen_by: str = "webhook"


@dataclass(frozen=True)
class StoreResult:
    id: int
    duplicate: bool


@dataclass(frozen=True)
class InboxRow:
    id: int
    type: str
    object_id: str
    attempts: int
    received_at: datetime
    body: bytes


@dataclass
class InboxStats:
    by_status: dict[str, int] = field(default_factory=dict)
    # Age of the oldest delivery not yet processed (pending, failed or processing).
    oldest_pending_seconds: float | None = None
    duplicates: int = 0

    @property
    def depth(self) -> int:
        return sum(self.by_status.get(s, 0) for s in (*CLAIMABLE, "processing"))

    def as_json(self) -> dict[str, Any]:
        return {
            "by_status": dict(self.by_status),
            "depth": self.depth,
            "oldest_pending_seconds": self.oldest_pending_seconds,
            "duplicates": self.duplicates,
        }


def dedupe_key(type_: str, object_id: str, payload: str) -> str:
    """``type:id:digest``. X-Series sends no delivery id (reference §8), but a re-sent
    delivery carries the same payload; a changed object carries a new ``updated_at``."""
    digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]
    return f"{type_}:{object_id}:{digest}"


def _insert(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(_inbox)
    return sqlite.insert(_inbox)


def store_delivery(conn: Connection, delivery: Delivery, now: datetime) -> StoreResult:
    """Insert the delivery, or count it as a duplicate of the row with its dedupe key."""
    stmt = _insert(conn).values(
        received_at=now,
        type=delivery.type,
        object_id=delivery.object_id,
        dedupe_key=dedupe_key(delivery.type, delivery.object_id, delivery.payload),
        body=delivery.body,
        content_type=delivery.content_type,
        endpoint=delivery.endpoint,
        signature_encoding=delivery.signature_encoding,
        first_seen_by=delivery.first_seen_by,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        duplicates=0,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[_c.dedupe_key],
        set_={"duplicates": _c.duplicates + 1, "last_duplicate_at": now},
    ).returning(_c.id, _c.duplicates)
    row = conn.execute(stmt).one()
    return StoreResult(id=int(row.id), duplicate=int(row.duplicates) > 0)


def claim_batch(conn: Connection, worker: str, now: datetime, *, limit: int = 20) -> list[InboxRow]:
    """Take up to ``limit`` due rows for ``worker``; each claim counts as an attempt."""
    due = (
        select(_c.id)
        .where(_c.status.in_(CLAIMABLE), _c.next_attempt_at <= now)
        .order_by(_c.next_attempt_at, _c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    stmt = (
        update(_inbox)
        .where(_c.id.in_(due.scalar_subquery()), _c.status.in_(CLAIMABLE))
        .values(
            status="processing",
            claimed_by=worker,
            claimed_at=now,
            attempts=_c.attempts + 1,
        )
        .returning(_c.id, _c.type, _c.object_id, _c.attempts, _c.received_at, _c.body)
    )
    rows = [
        InboxRow(
            id=int(r.id),
            type=r.type,
            object_id=r.object_id,
            attempts=int(r.attempts),
            received_at=r.received_at,
            body=bytes(r.body),
        )
        for r in conn.execute(stmt)
    ]
    return sorted(rows, key=lambda r: r.id)


def _mine(ids: Sequence[int], worker: str) -> Any:
    # A row re-queued from under a slow worker (release_stale) is no longer its to settle.
    return and_(_c.id.in_(list(ids)), _c.status == "processing", _c.claimed_by == worker)


def mark_done(
    conn: Connection, ids: Sequence[int], worker: str, now: datetime, *, outcome: str
) -> int:
    """Settle claimed rows as processed; returns how many were still this worker's."""
    if not ids:
        return 0
    result = conn.execute(
        update(_inbox)
        .where(_mine(ids, worker))
        .values(
            status="done",
            outcome=outcome,
            processed_at=now,
            claimed_by=None,
            claimed_at=None,
        )
    )
    return int(result.rowcount)


def backoff_delay(attempts: int, base_seconds: float, max_seconds: float) -> float:
    """Seconds before the next try after ``attempts`` failed ones: base × 2^(n-1), capped."""
    return float(min(max_seconds, base_seconds * 2 ** max(0, attempts - 1)))


def fail(
    conn: Connection,
    ids: Sequence[int],
    worker: str,
    now: datetime,
    *,
    reason: str,
    max_attempts: int,
    base_seconds: float,
    max_seconds: float,
) -> dict[int, str]:
    """Record a failed attempt: retry later with back-off, or park after the last one.

    Returns the new status per row (``failed`` or ``parked``).
    """
    if not ids:
        return {}
    rows = conn.execute(select(_c.id, _c.attempts).where(_mine(ids, worker))).all()
    out: dict[int, str] = {}
    for row in rows:
        attempts = int(row.attempts)
        parked = attempts >= max_attempts
        delay = backoff_delay(attempts, base_seconds, max_seconds)
        status = "parked" if parked else "failed"
        conn.execute(
            update(_inbox)
            .where(_c.id == row.id)
            .values(
                status=status,
                last_error=reason[:2000],
                next_attempt_at=now if parked else now + timedelta(seconds=delay),
                processed_at=now if parked else None,
                claimed_by=None,
                claimed_at=None,
            )
        )
        out[int(row.id)] = status
    return out


def release_claims(conn: Connection, worker: str) -> int:
    """Give back this worker's unfinished rows (graceful shutdown); the interrupted
    attempt does not count toward parking."""
    result = conn.execute(
        update(_inbox)
        .where(_c.status == "processing", _c.claimed_by == worker)
        .values(
            status="pending",
            claimed_by=None,
            claimed_at=None,
            attempts=case((_c.attempts > 0, _c.attempts - 1), else_=0),
        )
    )
    return int(result.rowcount)


def release_stale(conn: Connection, now: datetime, *, older_than: timedelta) -> int:
    """Re-queue rows claimed longer ago than ``older_than`` (their worker died). The
    attempt still counts, so a delivery that crashes its worker is parked in the end."""
    result = conn.execute(
        update(_inbox)
        .where(_c.status == "processing", _c.claimed_at < now - older_than)
        .values(status="pending", claimed_by=None, claimed_at=None, next_attempt_at=now)
    )
    return int(result.rowcount)


def requeue_parked(conn: Connection, now: datetime, ids: Sequence[int] | None = None) -> int:
    """Send parked rows (all, or these) back to the queue with a fresh count."""
    where = _c.status == "parked"
    if ids is not None:
        where = and_(where, _c.id.in_(list(ids)))
    result = conn.execute(
        update(_inbox)
        .where(where)
        .values(status="pending", attempts=0, next_attempt_at=now, processed_at=None)
    )
    return int(result.rowcount)


def prune_done(conn: Connection, now: datetime, *, older_than: timedelta) -> int:
    """Delete processed rows received before ``now - older_than``."""
    result = conn.execute(
        delete(_inbox).where(_c.status == "done", _c.received_at < now - older_than)
    )
    return int(result.rowcount)


def inbox_stats(conn: Connection, now: datetime) -> InboxStats:
    """Rows per status, the age of the oldest unprocessed one, duplicates received."""
    stats = InboxStats()
    for row in conn.execute(select(_c.status, func.count()).group_by(_c.status)):
        stats.by_status[row[0]] = int(row[1])
    oldest = conn.execute(
        select(func.min(_c.received_at)).where(
            or_(_c.status.in_(CLAIMABLE), _c.status == "processing")
        )
    ).scalar()
    if oldest is not None:
        stats.oldest_pending_seconds = max(0.0, (now - _aware(oldest)).total_seconds())
    total = conn.execute(select(func.coalesce(func.sum(_c.duplicates), 0))).scalar()
    stats.duplicates = int(total or 0)
    return stats


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):  # a driver that hands the aggregate back as stored text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def list_rows(
    conn: Connection, *, statuses: Sequence[str] = ("parked",), limit: int = 100
) -> list[dict[str, Any]]:
    """Rows in these statuses, newest first, without their bodies (for display)."""
    columns = [c for c in _inbox.columns if c.name != "body"]
    rows = conn.execute(
        select(*columns).where(_c.status.in_(list(statuses))).order_by(_c.id.desc()).limit(limit)
    )
    return [dict(r._mapping) for r in rows]


def queue_refreshed_customers(
    conn: Connection, stored: Sequence[tuple[str, int]], now: datetime
) -> int:
    """Queue customers a push's refresh stored (id, version), so the worker recomputes
    them: the refresh moved the cursor past them, so neither the worker (the stored copy
    is current) nor the poll (the cursor has passed) would otherwise see them."""
    for customer_id, version in stored:
        delivery = Delivery(
            type="customer.update",
            object_id=customer_id,
            payload=f"push refresh {version}",
            body=b"",
            content_type=None,
            endpoint="push",
            signature_encoding="none",
            first_seen_by="push",
        )
        store_delivery(conn, delivery, now)
    return len(stored)


def record_poll_catches(conn: Connection, objects: Sequence[tuple[str, str]], now: datetime) -> int:
    """Changes the poll found that no webhook announced in the last two days, recorded
    as done "poll catch" rows (``first_seen_by = 'poll'``) for ``/metrics``."""
    since = now - timedelta(days=2)
    announced = set(
        conn.execute(select(_c.type, _c.object_id).where(_c.received_at >= since)).all()
    )
    rows = [
        {
            "received_at": now,
            "type": kind,
            "object_id": object_id,
            "dedupe_key": f"poll:{kind}:{object_id}:{now.isoformat()}",
            "body": b"",
            "content_type": None,
            "endpoint": "poll",
            "signature_encoding": "none",
            "first_seen_by": "poll",
            "status": "done",
            "attempts": 0,
            "next_attempt_at": now,
            "processed_at": now,
            "outcome": "poll",
            "duplicates": 0,
        }
        for kind, object_id in objects
        if (kind, object_id) not in announced
    ]
    if rows:
        conn.execute(insert(_inbox), rows)
    return len(rows)
