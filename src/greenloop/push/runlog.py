"""The push run log in the database: runs, batches and the outcome per customer.

The log is written ahead of the API: every planned move is stored (``pending``) before
the first request, a batch's moves become ``sending`` in the same transaction that
records the batch, and ``sent`` once the API accepted it. A run killed anywhere leaves
``pending``/``sending``/``sent`` rows; the next run settles them against the groups it
has just re-read, so every move ends as ``moved``, ``not_taken``, ``failed``,
``not_sent`` or ``not_applied`` and no move is lost or made twice.

Move statuses: ``planned`` (dry run), ``pending``, ``sending``, ``sent``, ``moved``
(confirmed by a re-read), ``not_taken`` (accepted but the group did not change),
``failed`` (refused), ``not_sent`` (the run stopped first), ``not_applied`` (an
interrupted batch that did not reach the API), and the skips ``protected``,
``placeholder``, ``override``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from greenloop.domain.group_plan import GroupMove, GroupSkip
from greenloop.store import tables as t

__all__ = [
    "OPEN_STATUSES",
    "close_batch",
    "confirm_moves",
    "current_groups",
    "finish_run",
    "interrupt_stale_runs",
    "open_batch",
    "record_plan",
    "settle_open_moves",
    "start_run",
    "stop_pending",
]

OPEN_STATUSES = ("pending", "sending", "sent")
_CHUNK = 500


def start_run(engine: Engine, *, dry_run: bool, now: datetime) -> int:
    with engine.begin() as conn:
        result = conn.execute(
            insert(t.push_runs).values(
                started_at=now,
                dry_run=dry_run,
                outcome="running",
                planned=0,
                moved=0,
                failed=0,
                requests=0,
                detail={},
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def finish_run(
    engine: Engine,
    run_id: int,
    *,
    outcome: str,
    now: datetime,
    planned: int,
    moved: int,
    failed: int,
    requests: int,
    error: str | None,
    detail: dict[str, Any],
) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(t.push_runs)
            .where(t.push_runs.c.id == run_id)
            .values(
                outcome=outcome,
                finished_at=now,
                planned=planned,
                moved=moved,
                failed=failed,
                requests=requests,
                error=error,
                detail=detail,
            )
        )


def interrupt_stale_runs(conn: Connection, run_id: int, now: datetime) -> int:
    """Runs still marked running were killed: the caller holds the push lock."""
    r = t.push_runs.c
    return conn.execute(
        update(t.push_runs)
        .where(r.outcome == "running", r.id != run_id)
        .values(outcome="interrupted", finished_at=now, error="the process stopped mid-run")
    ).rowcount


def current_groups(conn: Connection, customer_ids: Sequence[str]) -> dict[str, str | None]:
    c = t.customers.c
    out: dict[str, str | None] = {}
    ids = sorted(set(customer_ids))
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        out.update(
            (r.id, None if r.deleted_at is not None else r.customer_group_id)
            for r in conn.execute(
                select(c.id, c.customer_group_id, c.deleted_at).where(c.id.in_(chunk))
            )
        )
    return out


def settle_open_moves(conn: Connection, run_id: int, now: datetime) -> dict[str, int]:
    """Close the moves earlier (interrupted) runs left open, from the groups just read."""
    pm = t.push_moves.c
    rows = conn.execute(
        select(pm.id, pm.customer_id, pm.to_group_id, pm.status).where(
            pm.status.in_(OPEN_STATUSES), pm.run_id != run_id
        )
    ).all()
    groups = current_groups(conn, [r.customer_id for r in rows])
    by_status: dict[str, list[int]] = {"moved": [], "not_applied": [], "not_sent": []}
    for row in rows:
        if groups.get(row.customer_id) == row.to_group_id:
            status = "moved"
        elif row.status == "pending":
            status = "not_sent"
        else:
            status = "not_applied"
        by_status[status].append(row.id)
    for status, ids in by_status.items():
        _set_status(conn, ids, status, now)
    b = t.push_batches.c
    conn.execute(
        update(t.push_batches)
        .where(b.status == "sending", b.run_id != run_id)
        .values(status="settled", finished_at=now)
    )
    return {status: len(ids) for status, ids in by_status.items()}


def record_plan(
    conn: Connection,
    run_id: int,
    moves: Sequence[GroupMove],
    skips: Sequence[GroupSkip],
    *,
    dry_run: bool,
    now: datetime,
) -> None:
    rows: list[dict[str, Any]] = [
        {
            "run_id": run_id,
            "batch_id": None,
            "customer_id": m.customer_id,
            "person_id": m.person_id,
            "tier": m.tier,
            "from_group_id": m.from_group_id,
            "to_group_id": m.to_group_id,
            "status": "planned" if dry_run else "pending",
            "error": None,
            "updated_at": now,
        }
        for m in moves
    ]
    rows.extend(
        {
            "run_id": run_id,
            "batch_id": None,
            "customer_id": s.customer_id,
            "person_id": s.person_id,
            "tier": s.tier,
            "from_group_id": s.group_id,
            "to_group_id": s.wanted_group_id,
            "status": s.reason,
            "error": None,
            "updated_at": now,
        }
        for s in skips
    )
    for start in range(0, len(rows), _CHUNK):
        conn.execute(insert(t.push_moves), rows[start : start + _CHUNK])


def open_batch(
    engine: Engine,
    run_id: int,
    group_id: str,
    group_name: str,
    customer_ids: Sequence[str],
    now: datetime,
) -> int:
    """Record the batch and mark its moves ``sending``, before the request goes out."""
    with engine.begin() as conn:
        key = conn.execute(
            insert(t.push_batches).values(
                run_id=run_id,
                group_id=group_id,
                group_name=group_name,
                customers=len(customer_ids),
                status="sending",
                created_at=now,
            )
        ).inserted_primary_key
        assert key is not None
        batch_id = int(key[0])
        _set_moves(conn, run_id, customer_ids, status="sending", batch_id=batch_id, now=now)
    return batch_id


def close_batch(
    engine: Engine,
    run_id: int,
    batch_id: int,
    customer_ids: Sequence[str],
    *,
    status: str,
    move_status: str,
    now: datetime,
    error: str | None = None,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(t.push_batches)
            .where(t.push_batches.c.id == batch_id)
            .values(status=status, finished_at=now, error=error)
        )
        batch = None if move_status == "pending" else batch_id
        _set_moves(
            conn, run_id, customer_ids, status=move_status, batch_id=batch, now=now, error=error
        )


def confirm_moves(conn: Connection, run_id: int, now: datetime) -> tuple[int, list[str]]:
    """After the re-read: ``sent`` moves become ``moved`` or ``not_taken``."""
    pm = t.push_moves.c
    rows = conn.execute(
        select(pm.id, pm.customer_id, pm.to_group_id).where(
            pm.run_id == run_id, pm.status == "sent"
        )
    ).all()
    groups = current_groups(conn, [r.customer_id for r in rows])
    moved: list[int] = []
    not_taken: list[int] = []
    not_taken_customers = []
    for row in rows:
        if groups.get(row.customer_id) == row.to_group_id:
            moved.append(row.id)
        else:
            not_taken.append(row.id)
            not_taken_customers.append(row.customer_id)
    _set_status(conn, moved, "moved", now)
    _set_status(conn, not_taken, "not_taken", now)
    return len(moved), not_taken_customers


def stop_pending(conn: Connection, run_id: int, now: datetime) -> int:
    """Moves the run never sent (it stopped on an error) are ``not_sent``."""
    pm = t.push_moves.c
    return conn.execute(
        update(t.push_moves)
        .where(pm.run_id == run_id, pm.status == "pending")
        .values(status="not_sent", updated_at=now)
    ).rowcount


def _set_moves(
    conn: Connection,
    run_id: int,
    customer_ids: Sequence[str],
    *,
    status: str,
    batch_id: int | None,
    now: datetime,
    error: str | None = None,
) -> None:
    pm = t.push_moves.c
    ids = list(customer_ids)
    for start in range(0, len(ids), _CHUNK):
        conn.execute(
            update(t.push_moves)
            .where(
                pm.run_id == run_id,
                pm.customer_id.in_(ids[start : start + _CHUNK]),
                pm.status.in_(OPEN_STATUSES),
            )
            .values(status=status, batch_id=batch_id, updated_at=now, error=error)
        )


def _set_status(conn: Connection, move_ids: Sequence[int], status: str, now: datetime) -> None:
    pm = t.push_moves.c
    for start in range(0, len(move_ids), _CHUNK):
        conn.execute(
            update(t.push_moves)
            .where(pm.id.in_(move_ids[start : start + _CHUNK]))
            .values(status=status, updated_at=now)
        )
