"""The tier-event outbox (``tier_events``): rows written beside the tier history,
claimed and settled by the sender.

Functions take a ``Connection`` and never commit; the caller owns the transaction. A
row moves ``pending`` → ``sending`` (claimed; ``next_attempt_at`` is the lease's end, so
a sender that died lets the row go when it runs out) → ``sent``; a failure sends it to
``failed`` with the time of its next attempt, and after the last allowed attempt to
``parked``. Delivery is at least once: a sender killed between the POST and the update
sends that event again, with the same ``event_id``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from greenloop.store import tables as t
from greenloop.store.bulk import bulk_insert

__all__ = [
    "EventRow",
    "claim_due",
    "enqueue_for_runs",
    "event_counts",
    "list_events",
    "mark_failed",
    "mark_sent",
    "requeue_parked",
]

_e = t.tier_events.c
_h = t.tier_history.c
_CLAIMABLE = ("pending", "failed")


@dataclass(frozen=True)
class EventRow:
    """A claimed event and the history row it announces."""

    id: int
    event_id: str
    attempts: int
    person_id: str
    at: datetime
    from_tier: str | None
    to_tier: str | None
    change: str
    reason: str
    reasons: Any


def enqueue_for_runs(conn: Connection, run_ids: Iterable[int], now: datetime) -> int:
    """An outbox row for every tier_history row of ``run_ids`` that has none yet.

    Called in the transaction that wrote those history rows."""
    runs = sorted(set(run_ids))
    if not runs:
        return 0
    rows = conn.execute(
        select(_h.id, _h.person_id)
        .where(_h.run_id.in_(runs))
        .where(~select(_e.id).where(_e.history_id == _h.id).exists())
        .order_by(_h.id)
    ).all()
    bulk_insert(
        conn,
        t.tier_events,
        (
            "event_id",
            "history_id",
            "person_id",
            "created_at",
            "status",
            "attempts",
            "next_attempt_at",
        ),
        [(f"evt_{uuid.uuid4().hex}", hid, pid, now, "pending", 0, now) for hid, pid in rows],
    )
    return len(rows)


def claim_due(conn: Connection, now: datetime, limit: int, lease: timedelta) -> list[EventRow]:
    """Up to ``limit`` events due now (oldest first), leased until ``now + lease``.

    An event waits while an earlier one of the same person is unsettled (a parked one
    does not hold it), so one person's changes go out in the order they happened."""
    due = or_(
        and_(_e.status.in_(_CLAIMABLE), _e.next_attempt_at <= now),
        and_(_e.status == "sending", _e.next_attempt_at < now),
    )
    earlier = t.tier_events.alias("earlier")
    waiting = (
        select(earlier.c.id)
        .where(
            earlier.c.person_id == _e.person_id,
            earlier.c.id < _e.id,
            earlier.c.status.in_((*_CLAIMABLE, "sending")),
        )
        .exists()
    )
    pick = select(_e.id).where(due, ~waiting).order_by(_e.id).limit(limit)
    if conn.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    ids = list(conn.execute(pick).scalars())
    if not ids:
        return []
    conn.execute(
        update(t.tier_events)
        .where(_e.id.in_(ids))
        .values(status="sending", next_attempt_at=now + lease)
    )
    rows = conn.execute(
        select(
            _e.id,
            _e.event_id,
            _e.attempts,
            _h.person_id,
            _h.at,
            _h.from_tier,
            _h.to_tier,
            _h.change,
            _h.reason,
            _h.reasons,
        )
        .join(t.tier_history, _h.id == _e.history_id)
        .where(_e.id.in_(ids))
        .order_by(_e.id)
    ).all()
    return [EventRow(**row._mapping) for row in rows]


def mark_sent(conn: Connection, event: EventRow, now: datetime, status: int) -> None:
    conn.execute(
        update(t.tier_events)
        .where(_e.id == event.id)
        .values(
            status="sent",
            attempts=event.attempts + 1,
            sent_at=now,
            last_status=status,
            last_error=None,
        )
    )


def mark_failed(
    conn: Connection,
    event: EventRow,
    *,
    retry_at: datetime | None,
    error: str,
    status: int | None,
) -> None:
    """Record a failed attempt: retried at ``retry_at``, or parked when that is None."""
    conn.execute(
        update(t.tier_events)
        .where(_e.id == event.id)
        .values(
            status="parked" if retry_at is None else "failed",
            attempts=event.attempts + 1,
            next_attempt_at=retry_at if retry_at is not None else _e.next_attempt_at,
            last_status=status,
            last_error=error[:500],
        )
    )


def requeue_parked(conn: Connection, now: datetime) -> int:
    """Parked events go back to the queue with a fresh set of attempts."""
    result = conn.execute(
        update(t.tier_events)
        .where(_e.status == "parked")
        .values(status="pending", attempts=0, next_attempt_at=now)
    )
    return int(result.rowcount or 0)


def event_counts(conn: Connection) -> dict[str, int]:
    return {
        status: int(n)
        for status, n in conn.execute(select(_e.status, func.count()).group_by(_e.status)).all()
    }


def list_events(
    conn: Connection, *, status: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The newest events first, with the change each announces."""
    query = (
        select(
            _e.event_id,
            _e.person_id,
            _e.status,
            _e.attempts,
            _e.created_at,
            _e.next_attempt_at,
            _e.sent_at,
            _e.last_status,
            _e.last_error,
            _h.from_tier,
            _h.to_tier,
            _h.change,
        )
        .join(t.tier_history, _h.id == _e.history_id)
        .order_by(_e.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(_e.status == status)
    return [dict(row._mapping) for row in conn.execute(query)]
