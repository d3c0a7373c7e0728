"""What one push run was asked to do (`PushOptions`) and what it did (`PushReport`).

The report is filled in phase by phase as the run goes (the plan, the groups created,
the batches sent, the moves confirmed) and is what `tiers push --json`, the run log's
detail and the tier sync log file are made from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from greenloop.domain.group_plan import GroupMove, PushPlan
from greenloop.push.state import GroupDirectory, HandMove

__all__ = ["PushOptions", "PushReport", "Requests"]


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
