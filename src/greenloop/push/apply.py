"""`tiers push`: refresh, plan, move customers between groups in batches, re-read, log.

Moves go through ``POST /customer_groups/{id}/customers`` with ``customer_ids``: it
changes only the group link, where a full-record ``PUT /customers/{id}`` would write
back every field as last read and could undo a staff edit made since (reference §5).
Adding a customer to the group it is already in changes nothing, so a batch resent
after an interruption is harmless; the log still settles such batches from the groups
re-read at the start of the next run, so a move is counted once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine

from greenloop.domain.group_plan import (
    NO_TIER,
    GroupMove,
    PushPlan,
    batches,
    minimum_requests,
    plan_moves,
)
from greenloop.domain.tiers import Program
from greenloop.errors import ApiRejected, AuthFailed, ConfigError, GreenLoopError
from greenloop.lightspeed import models as m
from greenloop.lightspeed.client import LightspeedClient
from greenloop.push import runlog
from greenloop.push.state import (
    NEW_GROUP,
    GroupDirectory,
    HandMove,
    find_hand_moves,
    last_pushed_groups,
    load_groups,
    load_profiles,
    missing_tier_groups,
    plan_input,
    record_overrides,
)
from greenloop.store import repo
from greenloop.store import tables as t
from greenloop.store.locks import job_lock
from greenloop.sync.pull import sync

__all__ = ["PushOptions", "PushReport", "push_tiers"]

log = logging.getLogger(__name__)

# A batch refused as malformed or too large is split in half: Lightspeed documents no
# batch limit, so the real one is found by halving. 404 (a customer deleted since the
# refresh) splits too, so the rest of the batch still moves, without shrinking the size.
_SHRINK_ON = frozenset({400, 413, 422})
_SPLIT_ON = _SHRINK_ON | {404}
_REFRESH = ("customer_groups", "customers")


@dataclass(frozen=True)
class PushOptions:
    batch_size: int = 250
    dry_run: bool = False
    limit: int | None = None
    managed_groups: tuple[str, ...] = ()
    default_group: str = "All Customers"
    hand_moves: Literal["keep", "revert"] = "keep"
    move_placeholder_profiles: bool = False
    create_missing_groups: bool = True
    # Read changed customers and groups by cursor first; off only for offline tests.
    refresh: bool = True
    page_size: int = 1000
    lock_ttl: timedelta = timedelta(hours=2)


@dataclass
class Requests:
    refresh: int = 0
    create_groups: int = 0
    moves: int = 0
    reread: int = 0

    @property
    def total(self) -> int:
        return self.refresh + self.create_groups + self.moves + self.reread


@dataclass
class PushReport:
    run_id: int
    dry_run: bool
    started_at: datetime
    batch_size: int
    finished_at: datetime | None = None
    outcome: str = "running"
    plan: PushPlan = field(default_factory=PushPlan)
    groups: GroupDirectory | None = None
    tier_order: tuple[str, ...] = ()
    tier_groups: dict[str, str] = field(default_factory=dict)  # tier → group name
    created_groups: list[str] = field(default_factory=list)
    missing_groups: list[str] = field(default_factory=list)
    requests: Requests = field(default_factory=Requests)
    minimum_move_requests: int = 0
    rate_limited: int = 0
    moved: int = 0
    batches: int = 0
    not_taken: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    not_sent: int = 0
    settled: dict[str, int] = field(default_factory=dict)
    hand_moves: list[HandMove] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def group_name(self, group_id: str | None) -> str:
        return self.groups.name_of(group_id) if self.groups else str(group_id)

    def as_json(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "outcome": self.outcome,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "customers": plan.customers,
            "planned_moves": len(plan.moves),
            "deferred_by_limit": plan.deferred,
            "moved": self.moved,
            "unchanged": plan.unchanged,
            "not_taken": self.not_taken,
            "failed": [{"customer_id": c, "error": e} for c, e in self.failed],
            "not_sent": self.not_sent,
            "skipped": {
                reason: len(plan.skipped(reason))
                for reason in ("protected", "placeholder", "override")
            },
            "protected": [
                {"customer_id": s.customer_id, "group": self.group_name(s.group_id)}
                for s in plan.skipped("protected")
            ],
            "tiers": {
                tier: {
                    "group": self._tier_group(tier),
                    "customers": s.customers,
                    "moves_in": s.moves_in,
                    "moves_out": s.moves_out,
                    "protected_skips": s.protected,
                    "placeholder_skips": s.placeholder,
                    "override_skips": s.override,
                    "unchanged": s.unchanged,
                }
                for tier, s in sorted(plan.by_tier.items(), key=lambda kv: self._rank(kv[0]))
            },
            "moves": [self._move_json(move) for move in plan.moves],
            "groups_created": self.created_groups,
            "groups_missing": self.missing_groups,
            "hand_moves": [
                {
                    "customer_id": h.customer_id,
                    "pushed_group": self.group_name(h.pushed_group_id),
                    "group": self.group_name(h.group_id),
                }
                for h in self.hand_moves
            ],
            "settled_from_earlier_runs": self.settled,
            "batch_size": self.batch_size,
            "batches": self.batches,
            "requests": {
                "refresh": self.requests.refresh,
                "create_groups": self.requests.create_groups,
                "moves": self.requests.moves,
                "reread": self.requests.reread,
                "total": self.requests.total,
                "minimum_moves": self.minimum_move_requests,
                "rate_limited": self.rate_limited,
            },
            "error": self.error,
        }

    def _rank(self, tier: str) -> int:
        return self.tier_order.index(tier) if tier in self.tier_order else len(self.tier_order)

    def _tier_group(self, tier: str) -> str | None:
        return self.tier_groups.get(tier)

    def _move_json(self, move: GroupMove) -> dict[str, Any]:
        return {
            "customer_id": move.customer_id,
            "person_id": move.person_id,
            "tier": move.tier,
            "from": self.group_name(move.from_group_id),
            "to": self.group_name(move.to_group_id),
        }


def push_tiers(
    engine: Engine,
    client: LightspeedClient,
    program: Program,
    options: PushOptions,
    *,
    customer_ids: Iterable[str] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> PushReport:
    """Run one push. Errors after the run started are recorded and returned, not raised.

    ``customer_ids`` limits the push to those profiles: the real-time path pushes one
    person's change this way, through the same plan, log and rate budget. The refresh
    is still by cursor, which after a recent sync is a request or two.
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
            _Push(engine, client, program, options, report, now, scope).run()
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


class _Push:
    def __init__(
        self,
        engine: Engine,
        client: LightspeedClient,
        program: Program,
        options: PushOptions,
        report: PushReport,
        now: Callable[[], datetime],
        scope: list[str] | None = None,
    ) -> None:
        self.scope = scope
        self.engine = engine
        self.client = client
        self.program = program
        self.options = options
        self.report = report
        self.now = now
        self.size = options.batch_size

    def run(self) -> None:
        report, options = self.report, self.options
        report.requests.refresh = self._read(options.refresh)
        with self.engine.begin() as conn:
            runlog.interrupt_stale_runs(conn, report.run_id, self.now())
            report.settled = runlog.settle_open_moves(conn, report.run_id, self.now())
        groups = self._groups()
        rules = plan_input(
            self.program,
            groups,
            managed_names=options.managed_groups,
            move_placeholder_profiles=options.move_placeholder_profiles,
        )
        report.tier_groups = {
            tier: groups.name_of(group_id) for tier, group_id in rules.tier_groups.items()
        }
        report.tier_groups[NO_TIER] = groups.name_of(rules.default_group_id)
        with self.engine.connect() as conn:
            profiles = load_profiles(conn, customer_ids=self.scope)
            pushed = last_pushed_groups(conn, self.scope)
        report.hand_moves = find_hand_moves(profiles, pushed, rules)
        if report.hand_moves and options.hand_moves == "keep":
            if not options.dry_run:
                with self.engine.begin() as conn:
                    record_overrides(conn, report.hand_moves, self.now())
            kept = {h.customer_id: h.group_id for h in report.hand_moves}
            profiles = [
                p
                if p.customer_id not in kept
                else type(p)(**{**p.__dict__, "override_group_id": kept[p.customer_id]})
                for p in profiles
            ]
        plan = plan_moves(profiles, rules, tier_order=report.tier_order, limit=options.limit)
        report.plan = plan
        report.minimum_move_requests = minimum_requests(plan.moves, options.batch_size)
        with self.engine.begin() as conn:
            runlog.record_plan(
                conn, report.run_id, plan.moves, plan.skips, dry_run=options.dry_run, now=self.now()
            )
        if options.dry_run or not plan.moves:
            return
        for group_id, moves in batches(plan.moves, options.batch_size):
            self._send(group_id, moves)
        # Confirm by reading back: a move the API accepted but did not apply (or that
        # someone undid at once) shows up as not taken instead of being assumed done.
        report.requests.reread = self._read(True, resources=("customers",))
        with self.engine.begin() as conn:
            report.moved, report.not_taken = runlog.confirm_moves(conn, report.run_id, self.now())

    def _read(self, enabled: bool, resources: Sequence[str] = _REFRESH) -> int:
        if not enabled:
            return 0
        before = self.client.stats.requests
        sync(
            self.engine,
            self.client,
            resources=resources,
            page_size=self.options.page_size,
            clock=self.now,
        )
        return self.client.stats.requests - before

    def _groups(self) -> GroupDirectory:
        options, report = self.options, self.report
        with self.engine.connect() as conn:
            groups = load_groups(conn, options.default_group)
        report.groups = groups
        if groups.default_id is None:
            raise ConfigError(
                f"no default customer group: none has the code 1111111111 or is named "
                f"{options.default_group!r}",
                hint="Set push.default_group to the name of Lightspeed's default customer "
                "group (Customers → Groups), then run `greenloop sync`.",
            )
        missing = missing_tier_groups(self.program, groups)
        if not missing:
            return groups
        if options.dry_run:
            report.missing_groups = missing
            return groups
        if not options.create_missing_groups:
            raise ConfigError(
                f"the program's groups {', '.join(map(repr, missing))} do not exist in Lightspeed",
                hint="Create them under Customers → Groups, or set push.create_missing_groups.",
            )
        for name in missing:
            self._create_group(name)
        with self.engine.connect() as conn:
            groups = load_groups(conn, options.default_group)
        report.groups = groups
        return groups

    def _create_group(self, name: str) -> None:
        before = self.client.stats.requests
        try:
            payload = self.client.request(
                "POST", "/api/2.0/customer_groups", json={"name": name}, label="push"
            )
        except ApiRejected as exc:
            raise ApiRejected(
                f"cannot create the customer group {name!r}: {exc.message}",
                status=exc.status,
                hint="Fix the group name in [program] (or create the group in Lightspeed "
                "under Customers → Groups) and re-run; nobody was moved.",
            ) from None
        finally:
            self.report.requests.create_groups += self.client.stats.requests - before
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            raise ApiRejected(
                f"creating the customer group {name!r}: the API answered without the group",
                status=0,
            )
        with self.engine.begin() as conn:
            repo.upsert_versioned(conn, t.customer_groups, [m.parse_customer_group(data)])
        self.report.created_groups.append(name)
        log.info("created the customer group %r", name)

    def _send(self, group_id: str, moves: list[GroupMove]) -> None:
        """Send ``moves`` into ``group_id`` in batches of the current size."""
        for start in range(0, len(moves), self.size):
            self._send_batch(group_id, moves[start : start + self.size])

    def _send_batch(self, group_id: str, moves: list[GroupMove]) -> None:
        report = self.report
        assert not group_id.startswith(NEW_GROUP)
        ids = [move.customer_id for move in moves]
        batch_id = runlog.open_batch(
            self.engine, report.run_id, group_id, report.group_name(group_id), ids, self.now()
        )
        report.batches += 1
        before = self.client.stats.requests
        refused: ApiRejected | AuthFailed | None = None
        try:
            self.client.request(
                "POST",
                f"/api/2.0/customer_groups/{group_id}/customers",
                json={"customer_ids": ids},
                label="push",
            )
        except (ApiRejected, AuthFailed) as exc:
            refused = exc
        finally:
            # Other errors (5xx after the retries, timeouts) propagate and leave the batch
            # "sending": it may or may not have been applied, and the next run settles it
            # from the groups it reads.
            report.requests.moves += self.client.stats.requests - before
        if refused is None:
            self._close(batch_id, ids, "sent", "sent")
            return
        if isinstance(refused, ApiRejected) and refused.status in _SPLIT_ON and len(ids) > 1:
            self._close(batch_id, ids, "split", "pending", refused.message)
            if refused.status in _SHRINK_ON:
                self.size = max(1, min(self.size, len(ids) // 2))
                log.warning(
                    "a batch of %d was refused (%s); batch size now %d",
                    len(ids),
                    refused.status,
                    self.size,
                )
            half = len(moves) // 2
            self._send(group_id, moves[:half])
            self._send(group_id, moves[half:])
            return
        # Refused outright (401/403 or a 4xx that splitting cannot help): not applied.
        self._close(batch_id, ids, "failed", "failed", refused.one_line())
        report.failed.extend((i, refused.message) for i in ids)
        if isinstance(refused, AuthFailed):
            raise refused

    def _close(
        self, batch_id: int, ids: list[str], status: str, move_status: str, error: str | None = None
    ) -> None:
        runlog.close_batch(
            self.engine,
            self.report.run_id,
            batch_id,
            ids,
            status=status,
            move_status=move_status,
            now=self.now(),
            error=error,
        )
