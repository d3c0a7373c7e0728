"""Replay: a person's tier at a past moment, recomputed from the stored facts.

A tier depends on its own past (downgrades wait for a review date set when the tier was
reached), so a past tier is found by re-running the decisions at the moments GreenLoop
made them: the analyses recorded before that moment. With the same facts and the same
moments the replay reproduces the history exactly; where a sale arrived late, it shows
what the rules give now. Before GreenLoop's first analysis there is no record, so the
replay assumes the daily job ran every day at its scheduled time since the first purchase.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from greenloop.domain.tiers import Evaluation, Facts, Program, TierState, decide, evaluate

__all__ = ["Lock", "ReplayStep", "daily_points", "replay", "with_lock"]


@dataclass(frozen=True)
class Lock:
    """A staff override: ``tier`` from ``since`` until ``until``."""

    tier: str | None
    since: datetime
    until: datetime


@dataclass(frozen=True)
class ReplayStep:
    at: datetime
    state: TierState
    evaluation: Evaluation
    changed: bool


def daily_points(first: datetime, until: datetime, at: time) -> list[datetime]:
    """Every scheduled daily run after ``first`` up to ``until``, then ``until``."""
    points: list[datetime] = []
    moment = datetime.combine(first.date(), at, tzinfo=first.tzinfo)
    if moment < first:
        moment += timedelta(days=1)
    while moment < until:
        points.append(moment)
        moment += timedelta(days=1)
    points.append(until)
    return points


def with_lock(state: TierState, lock: Lock | None, now: datetime) -> TierState:
    """A lock in force overrides whatever the rules decided."""
    if lock is None or not (lock.since <= now < lock.until):
        return state
    if state.tier == lock.tier and state.locked_until == lock.until:
        return state
    return TierState(
        lock.tier,
        state.since if state.tier == lock.tier else now,
        state.review_at,
        locked_tier=lock.tier,
        locked_until=lock.until,
        reason=f"locked by staff until {lock.until.date().isoformat()}",
    )


def replay(
    facts: Facts,
    program: Program,
    points: Sequence[datetime],
    *,
    lock: Lock | None = None,
    start: TierState | None = None,
) -> list[ReplayStep]:
    """Decide the tier at each point in order, as the analyses did."""
    state = start
    steps: list[ReplayStep] = []
    for point in points:
        evaluation = evaluate(facts, program, point)
        decided = with_lock(decide(state, evaluation, program, point), lock, point)
        changed = state is None or decided.tier != state.tier
        steps.append(ReplayStep(point, decided, evaluation, changed))
        state = decided
    return steps
