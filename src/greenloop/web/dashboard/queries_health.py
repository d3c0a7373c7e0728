"""Sync health for the dashboard: cursors, sync runs, push runs and their logs, the
webhook inbox (when that table exists) and the eCom reconciliation summary."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, inspect, select

from greenloop.domain.reconcile import ReconcileReport
from greenloop.store import oauth_repo
from greenloop.store import tables as t
from greenloop.store.inbox import inbox_stats, list_rows
from greenloop.web.dashboard.queries import Page, iso

__all__ = [
    "MAX_ID",
    "lightspeed_connection",
    "push_run_detail",
    "push_runs",
    "reconcile_summary",
    "sync_health",
    "webhook_inbox",
]

MAX_ID = 2**31 - 1
_RECENT_RUNS = 20
# The poll syncs only customers and sales every few minutes, so the last good run of
# the other resources (the daily sync) can be hundreds of runs back: read back in
# batches until every resource is found, up to a bound.
_SCAN_BATCH = 500
_SCAN_LIMIT = 20_000
_AGE_BUCKETS = ((1, "under 1 day"), (7, "1–7 days"), (30, "7–30 days"), (None, "over 30 days"))


def sync_health(conn: Connection, resources: Sequence[str]) -> dict[str, Any]:
    """Cursors and runs per resource, and the add-on connection's state (never a token)."""
    c, r = t.sync_cursors.c, t.sync_runs.c
    cursors = {
        row.resource: row for row in conn.execute(select(c.resource, c.version, c.updated_at))
    }
    columns = (r.id, r.started_at, r.finished_at, r.full, r.outcome, r.requests, r.detail, r.error)
    runs = conn.execute(select(*columns).order_by(r.id.desc()).limit(_RECENT_RUNS)).all()
    last_ok = _last_good_runs(conn, {*resources, *cursors})
    names = list(dict.fromkeys([*resources, *sorted(cursors)]))
    per_resource = []
    for name in names:
        cursor = cursors.get(name)
        good = last_ok.get(name)
        per_resource.append(
            {
                "resource": name,
                "cursor": None if cursor is None else cursor.version,
                "cursor_updated_at": None if cursor is None else iso(cursor.updated_at),
                "last_success_at": None if good is None else iso(good[0].finished_at),
                "last_success_run": None if good is None else good[0].id,
                "last_fetched": None if good is None else good[1].get("fetched"),
            }
        )
    return {
        "lightspeed_connection": lightspeed_connection(conn),
        "resources": per_resource,
        "runs": [
            {
                "id": run.id,
                "started_at": iso(run.started_at),
                "finished_at": iso(run.finished_at),
                "full": run.full,
                "outcome": run.outcome,
                "requests": run.requests,
                "changed": (run.detail or {}).get("changed"),
                "error": run.error,
            }
            for run in runs
        ],
    }


def lightspeed_connection(conn: Connection) -> dict[str, Any] | None:
    """The add-on connection's state (None when GreenLoop is not connected as one)."""
    row = oauth_repo.read_connection(conn)
    if row is None:
        return None
    return {
        "domain_prefix": row.domain_prefix,
        "state": row.status,
        "scopes": list(row.scopes),
        "access_expires_at": iso(row.access_expires_at),
        "last_refresh_at": iso(row.refreshed_at),
        "refresh_in_flight": row.refresh_started_at is not None,
        "problem": row.problem,
    }


def _last_good_runs(conn: Connection, names: set[str]) -> dict[str, tuple[Any, dict[str, Any]]]:
    r = t.sync_runs.c
    found: dict[str, tuple[Any, dict[str, Any]]] = {}
    before: int | None = None
    for _ in range(_SCAN_LIMIT // _SCAN_BATCH):
        query = select(r.id, r.finished_at, r.detail).where(r.outcome == "ok")
        if before is not None:
            query = query.where(r.id < before)
        batch = conn.execute(query.order_by(r.id.desc()).limit(_SCAN_BATCH)).all()
        for run in batch:
            for name, figures in ((run.detail or {}).get("resources") or {}).items():
                found.setdefault(name, (run, figures if isinstance(figures, dict) else {}))
        if len(batch) < _SCAN_BATCH or names <= set(found):
            break
        before = batch[-1].id
    return found


def _move_counts(conn: Connection, run_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    mv = t.push_moves.c
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    if not run_ids:
        return counts
    for run_id, status, n in conn.execute(
        select(mv.run_id, mv.status, func.count())
        .where(mv.run_id.in_(run_ids))
        .group_by(mv.run_id, mv.status)
    ):
        counts[run_id][status] = n
    return counts


def _run_json(row: Any, moves: dict[str, int]) -> dict[str, Any]:
    return {
        "id": row.id,
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
        "dry_run": row.dry_run,
        "outcome": row.outcome,
        "planned": row.planned,
        "moved": row.moved,
        "failed": row.failed,
        "requests": row.requests,
        "error": row.error,
        "moves_by_status": dict(sorted(moves.items())),
    }


def _push_columns() -> tuple[Any, ...]:
    r = t.push_runs.c
    return (
        r.id,
        r.started_at,
        r.finished_at,
        r.dry_run,
        r.outcome,
        r.planned,
        r.moved,
        r.failed,
        r.requests,
        r.error,
    )


def push_runs(conn: Connection, page: int, page_size: int) -> Page:
    r = t.push_runs.c
    total = conn.execute(select(func.count()).select_from(t.push_runs)).scalar_one()
    rows = conn.execute(
        select(*_push_columns())
        .order_by(r.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    counts = _move_counts(conn, [row.id for row in rows])
    return Page([_run_json(row, counts.get(row.id, {})) for row in rows], page, page_size, total)


def push_run_detail(conn: Connection, run_id: int, problems_limit: int = 200) -> dict[str, Any]:
    """One push run's log: figures, per-tier summary, batches, and the moves that failed."""
    if not 1 <= run_id <= MAX_ID:  # the column is a 32-bit integer on PostgreSQL
        return {}
    r, b, mv = t.push_runs.c, t.push_batches.c, t.push_moves.c
    row = conn.execute(select(*_push_columns(), r.detail).where(r.id == run_id)).first()
    if row is None:
        return {}
    out = _run_json(row, _move_counts(conn, [run_id]).get(run_id, {}))
    detail = row.detail or {}
    out["tiers"] = detail.get("tiers", {})
    out["groups_created"] = detail.get("groups_created", [])
    out["skipped"] = detail.get("skipped", {})
    out["batches"] = [
        {
            "id": batch.id,
            "group": batch.group_name,
            "customers": batch.customers,
            "status": batch.status,
            "created_at": iso(batch.created_at),
            "finished_at": iso(batch.finished_at),
            "error": batch.error,
        }
        for batch in conn.execute(
            select(
                b.id,
                b.group_name,
                b.customers,
                b.status,
                b.created_at,
                b.finished_at,
                b.error,
            )
            .where(b.run_id == run_id)
            .order_by(b.id)
        )
    ]
    out["problems"] = [
        {
            "customer_id": move.customer_id,
            "person_id": move.person_id,
            "tier": move.tier,
            "status": move.status,
            "error": move.error,
        }
        for move in conn.execute(
            select(mv.customer_id, mv.person_id, mv.tier, mv.status, mv.error)
            .where(mv.run_id == run_id, mv.status.in_(("failed", "not_taken", "not_sent")))
            .order_by(mv.id)
            .limit(problems_limit)
        )
    ]
    return out


def webhook_inbox(conn: Connection, now: datetime) -> dict[str, Any] | None:
    """Deliveries per status, inbox depth, poll catches and parked deliveries, read with
    the receiver's own functions; None on a database without the inbox table."""
    if not inspect(conn).has_table("webhook_inbox"):
        return None
    w = t.webhook_inbox.c
    stats = inbox_stats(conn, now).as_json()
    stats["total"] = sum(stats["by_status"].values())
    stats["poll_catches"] = conn.execute(
        select(func.count()).where(w.first_seen_by == "poll")
    ).scalar_one()
    stats["last_received_at"] = iso(conn.execute(select(func.max(w.received_at))).scalar())
    stats["parked"] = [
        {
            "id": row["id"],
            "type": row["type"],
            "object_id": row["object_id"],
            "received_at": iso(row["received_at"]),
            "attempts": row["attempts"],
            "last_error": row["last_error"],
        }
        for row in list_rows(conn, statuses=("parked",), limit=20)
    ]
    return stats


def reconcile_summary(report: ReconcileReport) -> dict[str, Any]:
    """The reconciliation's counts, unsynced orders by age and reason, and lag figures."""
    ages: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for order in report.csv_only:
        reasons[str(order.get("reason"))] += 1
        age = float(order.get("age_days") or 0)
        for limit, label in _AGE_BUCKETS:
            if limit is None or age < limit:
                ages[label] += 1
                break
    return {
        "matched": report.matched,
        "unsynced_orders": len(report.csv_only),
        "unsynced_by_age": {label: ages[label] for _, label in _AGE_BUCKETS},
        "unsynced_by_reason": dict(sorted(reasons.items())),
        "xseries_only": len(report.xseries_only),
        "stale_hints": len(report.stale_hints),
        "amount_mismatches": len(report.amount_mismatches),
        "time_mismatches": len(report.time_mismatches),
        "lag_seconds": report.lag_seconds,
        "oldest_unsynced": sorted(report.csv_only, key=lambda o: -float(o.get("age_days") or 0))[
            :10
        ],
    }
