"""`tiers push`: one run, from refresh to confirmation, under the push lock and logged.

The phases, in order: refresh groups and customers (through the `Refresh` the caller
passes), settle what earlier runs left open, make sure every tier's group exists and
plan the moves (`plan`), send them in batches (`send`), re-read the customers, and mark
each move as taken or not from what was read back. The report (`report`) is filled in
as the run goes and is returned even when the run fails after it started.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from sqlalchemy import Engine

from greenloop.domain.group_plan import NO_TIER, batches
from greenloop.domain.tiers import Program
from greenloop.errors import GreenLoopError
from greenloop.lightspeed.client import LightspeedClient
from greenloop.push import runlog
from greenloop.push.plan import build_plan, tier_groups
from greenloop.push.refresh import CUSTOMERS, GROUPS_AND_CUSTOMERS, Refresh
from greenloop.push.report import PushOptions, PushReport
from greenloop.push.send import Sender
from greenloop.store.locks import job_lock

__all__ = ["PushOptions", "PushReport", "push_tiers"]


def push_tiers(
    engine: Engine,
    client: LightspeedClient,
    program: Program,
    options: PushOptions,
    *,
    refresh: Refresh,
    customer_ids: Iterable[str] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> PushReport:
    """Run one push. Errors after the run started are recorded and returned, not raised.

    ``refresh`` brings groups and customers in the store up to date (by cursor, after a
    recent sync a request or two); ``client`` sends the writes. ``customer_ids`` limits
    the push to those profiles: the real-time path pushes one person's change this way,
    through the same plan, log and rate budget.
    """
    now = clock or (lambda: datetime.now(UTC))
    with job_lock(engine, "push", ttl=options.lock_ttl, clock=now):
        started = now()
        run_id = runlog.start_run(engine, dry_run=options.dry_run, now=started)
        report = PushReport(run_id, options.dry_run, started, options.batch_size)
        report.tier_order = (*(tier.name for tier in program.tiers), NO_TIER)
        first_request = client.stats.requests
        first_429 = client.stats.rate_limited
        try:
            scope = None if customer_ids is None else sorted(set(customer_ids))
            _run(engine, client, refresh, program, options, report, now, scope)
        except GreenLoopError as exc:
            report.error = exc.one_line()
            report.outcome = "failed"
            with engine.begin() as conn:
                report.not_sent = runlog.stop_pending(conn, run_id, now())
        except BaseException:
            report.outcome = "interrupted"
            report.error = "interrupted"
            _finish(engine, report, now(), client.stats.requests - first_request)
            raise
        report.rate_limited = client.stats.rate_limited - first_429
        _finish(engine, report, now(), client.stats.requests - first_request)
        return report


def _run(
    engine: Engine,
    client: LightspeedClient,
    refresh: Refresh,
    program: Program,
    options: PushOptions,
    report: PushReport,
    now: Callable[[], datetime],
    scope: list[str] | None,
) -> None:
    report.requests.refresh = refresh(GROUPS_AND_CUSTOMERS)
    with engine.begin() as conn:
        runlog.interrupt_stale_runs(conn, report.run_id, now())
        report.settled = runlog.settle_open_moves(conn, report.run_id, now())
    sender = Sender(engine, client, report, now, options.batch_size)
    groups = tier_groups(engine, program, options, report, create_group=sender.create_group)
    plan = build_plan(engine, program, options, report, groups, scope=scope, now=now)
    if options.dry_run or not plan.moves:
        return
    for group_id, moves in batches(plan.moves, options.batch_size):
        sender.send(group_id, moves)
    # Confirm by reading back: a move the API accepted but did not apply (or that
    # someone undid at once) shows up as not taken instead of being assumed done.
    report.requests.reread = refresh(CUSTOMERS)
    with engine.begin() as conn:
        report.moved, report.not_taken = runlog.confirm_moves(conn, report.run_id, now())


def _finish(engine: Engine, report: PushReport, at: datetime, requests: int) -> None:
    report.finished_at = at
    if report.outcome == "running":
        report.outcome = "partial" if report.failed or report.not_taken else "ok"
    detail = report.as_json()
    detail.pop("moves")  # the moves are rows of push_moves
    runlog.finish_run(
        engine,
        report.run_id,
        outcome=report.outcome,
        now=at,
        planned=len(report.plan.moves),
        moved=report.moved,
        failed=len(report.failed),
        requests=requests,
        error=report.error,
        detail=detail,
    )
