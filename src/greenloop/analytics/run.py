"""``greenloop analyze``: everyone's identity, metrics, tier and risk, in one transaction.

The rules are recomputed from the facts on every run (they are pure and fast, and
time-windowed figures change daily anyway); only persons whose figures changed are
written, tier changes are appended to the history, and the day's snapshot of tier
counts is replaced. A one-person recompute for the real-time path lives in
:mod:`greenloop.analytics.person`.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from greenloop.analytics.compute import (
    Context,
    HistoryEntry,
    MemberIndex,
    PersonResult,
    build_members,
    compute_persons,
    member_of,
    risk_of,
)
from greenloop.analytics.facts import Facts, load_all
from greenloop.analytics.predict import apply_predictions
from greenloop.domain.identity import IdentityRules, Link, cluster, stable_person_ids
from greenloop.domain.metrics import MetricRules
from greenloop.domain.purchases import CountingRules, Purchase
from greenloop.domain.risk import store_cycle_days
from greenloop.domain.tiers import Program
from greenloop.store import analytics_repo as repo

__all__ = [
    "AnalyzeOptions",
    "AnalyzeReport",
    "Computation",
    "analyze_all",
    "compute_all",
    "group_purchases",
    "history_row",
    "new_person_id",
]


def new_person_id() -> str:
    return "p_" + uuid.uuid4().hex[:16]


@dataclass(frozen=True)
class AnalyzeOptions:
    counting: CountingRules
    identity: IdentityRules
    program: Program
    metrics: MetricRules
    min_visits_for_own_cycle: int = 3
    predictions: bool = True
    readiness: Mapping[str, int] = field(default_factory=dict)


@dataclass
class AnalyzeReport:
    run_id: int
    as_of: datetime
    persons: int
    profiles: int
    tier_counts: dict[str, int]
    changed: int
    changes: dict[str, int]
    rows_written: int
    purchases: int
    unattributed_purchases: int
    placeholders: int
    store_cycle_days: Decimal
    predictions: dict[str, Any]
    seconds: float

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        data["store_cycle_days"] = str(self.store_cycle_days)
        return data


# Figures that change on every run without anything happening to the person.
_VOLATILE = frozenset({"computed_at"})


def _differs(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> bool:
    if old is None:
        return True
    return any(new[k] != old.get(k) for k in new if k not in _VOLATILE)


def group_purchases(
    facts: Facts, index: Any, assignment: Mapping[str, str], rules: IdentityRules
) -> tuple[dict[str, list[Purchase]], int]:
    by_person: dict[str, list[Purchase]] = defaultdict(list)
    unattributed = 0
    for purchase in facts.purchases:
        key = member_of(purchase, facts, index, rules)
        pid = assignment.get(key) if key is not None else None
        if pid is None:
            unattributed += 1
            continue
        by_person[pid].append(purchase)
    return by_person, unattributed


@dataclass
class Computation:
    """Everyone computed from the facts, not yet written."""

    facts: Facts
    index: MemberIndex
    clusters: list[list[str]]
    links: list[Link]
    assignment: dict[str, str]
    results: list[PersonResult]
    previous_rows: dict[str, dict[str, Any]]
    unattributed: int
    store_cycle: Decimal
    predictions: dict[str, Any]


def compute_all(engine: Engine, options: AnalyzeOptions, now: datetime) -> Computation:
    """Identity, metrics, tiers (with last run's states) and risk for everyone."""
    with engine.connect() as conn:
        facts = load_all(conn, options.counting)
        previous_members = repo.load_member_persons(conn)
        previous_rows = repo.load_person_rows(conn)
        locks = repo.load_locks(conn)
    states = repo.load_tier_states(previous_rows)
    index = build_members(facts, options.identity)
    clusters, links = cluster(
        index.members,
        options.identity,
        manual_links=facts.manual_links,
        manual_unlinks=facts.manual_unlinks,
        placeholders=index.placeholders,
    )
    assignment = stable_person_ids(clusters, previous_members, new_person_id)
    by_person, unattributed = group_purchases(facts, index, assignment, options.identity)
    ctx = Context(
        options.program,
        options.identity,
        options.metrics,
        now,
        Decimal(90),
        options.min_visits_for_own_cycle,
    )
    results = compute_persons(clusters, assignment, by_person, facts, ctx, states, locks, index)
    cycle = store_cycle_days(
        r.metrics.average_cycle_days
        for r in results
        if r.metrics.average_cycle_days is not None
        and r.metrics.visits >= options.min_visits_for_own_cycle
    )
    for result in results:
        result.row["risk"] = risk_of(result.metrics, cycle, options.min_visits_for_own_cycle)
    predictions = (
        apply_predictions(results, by_person, options, now)
        if options.predictions
        else {"ready": False, "reasons": ["predictions are turned off (analytics.predictions)"]}
    )
    return Computation(
        facts,
        index,
        clusters,
        links,
        assignment,
        results,
        previous_rows,
        unattributed,
        cycle,
        predictions,
    )


def analyze_all(engine: Engine, options: AnalyzeOptions, now: datetime) -> AnalyzeReport:
    began = time.perf_counter()
    computed = compute_all(engine, options, now)
    facts, index, links, assignment = (
        computed.facts,
        computed.index,
        computed.links,
        computed.assignment,
    )
    results, previous_rows, cycle = computed.results, computed.previous_rows, computed.store_cycle
    predictions, unattributed = computed.predictions, computed.unattributed
    changed_rows = [r.row for r in results if _differs(r.row, previous_rows.get(r.row["id"]))]
    current = {r.row["id"] for r in results}
    vanished = set(previous_rows) - current
    history = [r.history for r in results if r.history is not None]
    value_counts: Counter[tuple[str, str]] = Counter()
    for member in index.members:
        value_counts.update(("email", e) for e in member.emails)
        value_counts.update(("phone", p) for p in member.phones)
    with engine.begin() as conn:
        run_id = repo.start_run(conn, datetime.now(now.tzinfo), now, "all", None)
        repo.replace_identity(
            conn, assignment, index.members, links, assignment, now, index.raw_emails
        )
        repo.replace_placeholders(conn, index.placeholders, value_counts)
        repo.upsert_persons(conn, changed_rows)
        repo.delete_persons(conn, vanished)
        repo.record_history(conn, [history_row(h, run_id) for h in history], run_id)
        counts = repo.write_snapshot(conn, now.date().isoformat())
        changes = Counter(h.change for h in history)
        report = AnalyzeReport(
            run_id=run_id,
            as_of=now,
            persons=len(results),
            profiles=len(facts.profiles),
            tier_counts={k or "(none)": v for k, v in sorted(counts.items())},
            changed=len(history),
            changes=dict(sorted(changes.items())),
            rows_written=len(changed_rows) + len(vanished),
            purchases=len(facts.purchases),
            unattributed_purchases=unattributed,
            placeholders=len(index.placeholders.emails) + len(index.placeholders.phones),
            store_cycle_days=cycle,
            predictions=predictions,
            seconds=0.0,
        )
        report.seconds = round(time.perf_counter() - began, 3)
        repo.finish_run(
            conn,
            run_id,
            datetime.now(now.tzinfo),
            persons=report.persons,
            profiles=report.profiles,
            changed=report.changed,
            detail={
                "tier_counts": report.tier_counts,
                "changes": report.changes,
                "store_cycle_days": str(cycle),
                "predictions": predictions,
                "seconds": report.seconds,
            },
        )
    return report


def history_row(entry: HistoryEntry, run_id: int) -> dict[str, Any]:
    return {
        "person_id": entry.person_id,
        "at": entry.at,
        "from_tier": entry.from_tier,
        "to_tier": entry.to_tier,
        "change": entry.change,
        "reason": entry.reason,
        "reasons": entry.reasons,
        "run_id": run_id,
    }
