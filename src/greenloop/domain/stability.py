"""How long one person's computed figures hold when nothing but the clock moves.

A person's row (metrics, tier, reasons, the way to the next tier, what keeps the tier)
depends on the moment of analysis only at a few edges: a purchase dated later coming
into view, a purchase leaving a rolling window, a new calendar year, a review date, a
lock's start or end. :func:`stable_until` gives the earliest edge after ``now``: with the
same facts and the same previous state, an analysis at any moment from ``now`` up to
(not including) it gives the same row, but for the moment of computing and the columns
only known once everyone is computed (risk and the predictions). A full analysis reuses
a person's last result within that span (``analytics.carry_over``).

It errs early: an edge that may change nothing still ends the span.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import UTC, datetime, time, timedelta

from greenloop.domain.metrics import MetricRules
from greenloop.domain.purchases import Timeline
from greenloop.domain.replay import Lock
from greenloop.domain.tiers import Evaluation, Program, TierState

__all__ = ["stable_until"]


def stable_until(
    timeline: Timeline,
    program: Program,
    metrics: MetricRules,
    previous: TierState | None,
    lock: Lock | None,
    state: TierState,
    evaluation: Evaluation,
    keep_review: datetime | None,
    now: datetime,
) -> datetime | None:
    """The first moment after ``now`` at which the row computed at ``now`` may change
    (``now`` itself: it may change at once; None: only new facts change it).

    ``state`` and ``evaluation`` are what was decided at ``now`` from ``previous``;
    ``keep_review`` is the review date the "what keeps this tier" lines were measured
    at (None: one review period from now, which moves with the clock)."""
    if state != previous:
        # A change takes ``now`` as its start: a later analysis would date it later.
        return now
    if evaluation.tier is not None and keep_review is None:
        return now
    edges: list[datetime] = []
    moments = timeline.at
    upcoming = timeline.upto(now)
    if upcoming < len(moments):
        edges.append(moments[upcoming])  # a purchase dated after now comes into view
    for days in _window_days(program, metrics):
        # A purchase counts in the window while it is no older than ``days``; the
        # oldest one still inside leaves first.
        inside = timeline.since(now - timedelta(days=days))
        if inside < upcoming:
            leaves = moments[inside] + timedelta(days=days)
            if leaves <= now:
                return now  # it sits on the window's start: out the moment after
            edges.append(leaves)
    recent = _recent_visits_edge(timeline, metrics, now)
    if recent is not None:
        edges.append(recent)
    if any(c.window.kind == "calendar_year" for tier in program.tiers for c in tier.conditions):
        local = now.astimezone(program.store_zone) if program.store_zone else now
        edges.append(
            datetime.combine(
                local.date().replace(year=local.year + 1, month=1, day=1), time(), local.tzinfo
            )
        )
    # Past decision edges are behind us: the policy already decides as after them.
    edges += _decision_edges(program, previous, lock)
    first = min((edge for edge in edges if edge > now), default=None)
    return None if first is None else first.astimezone(now.tzinfo)


def _window_days(program: Program, metrics: MetricRules) -> set[int]:
    """The rolling windows measured on purchase moments."""
    days: set[int] = set()
    if metrics.window_days:
        days.add(metrics.window_days)
    for tier in program.tiers:
        for condition in tier.conditions:
            if condition.window.kind == "rolling":
                days.add(condition.window.days or 0)
    return days


def _recent_visits_edge(timeline: Timeline, metrics: MetricRules, now: datetime) -> datetime | None:
    """When the oldest recent visit stops counting: recent visits are counted by local
    day (``metrics.timeline_metrics``), so a purchase stays recent until its whole day
    is older than the window."""
    zone = metrics.store_zone or now.tzinfo
    days = timeline.purchase_days(metrics.store_zone)[: timeline.upto_purchases(now)]
    first_day = (now - timedelta(days=metrics.recent_days)).astimezone(zone).date()
    oldest = bisect_left(days, first_day)
    if oldest == len(days):
        return None
    next_day = datetime.combine(days[oldest] + timedelta(days=1), time(), zone)
    # In absolute time, as the metrics subtract the window (a local day that spans a
    # change of clocks is 23 or 25 hours long).
    return next_day.astimezone(UTC) + timedelta(days=metrics.recent_days)


def _decision_edges(
    program: Program, previous: TierState | None, lock: Lock | None
) -> list[datetime]:
    """Where the downgrade policy or a lock may decide differently."""
    edges: list[datetime] = []
    policy = program.downgrade
    grace = timedelta(days=policy.grace_days)
    if previous is not None:
        if previous.locked_until is not None:
            edges.append(previous.locked_until)
        due = previous.since + timedelta(days=policy.review_days)
        edges += [due, due + grace]
        if previous.review_at is not None:
            edges += [previous.review_at, previous.review_at + grace]
    if lock is not None:
        edges += [lock.since, lock.until]
    return edges
