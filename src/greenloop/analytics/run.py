"""``greenloop analyze``: everyone's identity, metrics, tier and risk, in one transaction.

Identity and the purchases are read from the facts on every run; a person whose inputs
are unchanged and whose row still holds at this moment is carried over
(:mod:`~greenloop.analytics.carry_over`), everyone else is computed. Only persons whose
figures changed are written, tier changes are appended to the history, and the day's
snapshot of tier counts is replaced. A one-person recompute for the real-time path lives in
:mod:`greenloop.analytics.person`.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from greenloop.analytics.carry_over import Fingerprints
from greenloop.analytics.compute import Context, MemberIndex
from greenloop.analytics.facts import Facts, load_people
from greenloop.analytics.late_columns import LateAside
from greenloop.analytics.match_cache import MatchFinder
from greenloop.analytics.matches import Matches, match_reason
from greenloop.analytics.options import AnalyzeOptions, history_row
from greenloop.analytics.outcome import Outcome
from greenloop.analytics.people import cluster_people
from greenloop.analytics.per_person import Everyone, compute_everyone, cpus
from greenloop.analytics.purchase_rows import PurchaseReader, entries_by_person
from greenloop.analytics.stages import StageClock
from greenloop.analytics.writes import (
    full_rewrites,
    placeholder_uses,
    plan_writes,
    vanished_persons,
)
from greenloop.domain.identity import Link
from greenloop.domain.purchases import OrderFact
from greenloop.domain.risk import risk_status, store_cycle_days
from greenloop.process.collector import collector_paused
from greenloop.store import analytics_repo as repo
from greenloop.store import events_repo, matches_repo
from greenloop.store import tables as t
from greenloop.store.bulk_indexes import indexes_built_after
from greenloop.store.person_inputs import (
    delete_inputs,
    load_carried,
    save_inputs,
)

if TYPE_CHECKING:
    pass

__all__ = ["AnalyzeReport", "Computation", "analyze_all", "compute_all", "take_predictions"]


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
    # Probabilistic matching: pairs joined at once, suggestions waiting for staff.
    matches: dict[str, Any] = field(default_factory=dict)
    # Seconds per stage: load, identity, purchases, persons, risk, write_first (what needs
    # no prediction, written while they are fitted aside), predictions (what is left of
    # their fit), compare (row digests against the stored ones), write (the persons).
    stages: dict[str, float] = field(default_factory=dict)
    # Persons whose stored row was taken as it is (analytics.carry_over).
    carried_over: int = 0

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        data["store_cycle_days"] = str(self.store_cycle_days)
        return data


@dataclass
class Computation:
    """Everyone computed from the facts, not yet written."""

    facts: Facts
    index: MemberIndex
    clusters: list[list[str]]
    links: list[Link]
    assignment: dict[str, str]
    results: list[Outcome]
    previous: dict[str, repo.Stored]
    purchases: int
    unattributed: int
    store_cycle: Decimal
    predictions: dict[str, Any]
    matches: Matches
    # Keeps the pairs just scored for the next analysis (when their inputs changed).
    match_finder: MatchFinder
    clock: StageClock
    carried_over: int = 0
    # The late columns being worked out, until :func:`take_predictions` writes them in.
    pending: LateAside | None = None
    # Each result's row digest, when worked out with the late columns (else None).
    digests: list[str] | None = None


def compute_all(
    engine: Engine,
    options: AnalyzeOptions,
    now: datetime,
    *,
    full_rows: bool = True,
    late_aside: bool = False,
) -> Computation:
    """Identity, metrics, tiers (with last run's states), risk and predictions for
    everyone.

    ``full_rows=False``: a person whose columns but :data:`~analytics_repo.LATE_COLUMNS`
    are stored unchanged gets a :func:`~analytics_repo.late_row` (for writing them).
    ``late_aside``: the late columns (predictions, and the risk they confirm) and the row
    digests are left pending (:attr:`Computation.pending`, worked out in a forked process
    on a large store) until :func:`take_predictions`; the caller closes the computation's
    ``pending`` whatever happens."""
    with collector_paused():
        return _compute_all(engine, options, now, full_rows, late_aside)


def _compute_all(
    engine: Engine, options: AnalyzeOptions, now: datetime, full_rows: bool, aside: bool
) -> Computation:
    clock = StageClock()
    reader = PurchaseReader(engine, options.counting, cpus())
    try:
        with engine.connect() as conn:
            facts, orders = load_people(conn)
        return _compute_with(engine, options, now, clock, facts, orders, reader, full_rows, aside)
    finally:
        reader.close()


def _compute_with(
    engine: Engine,
    options: AnalyzeOptions,
    now: datetime,
    clock: StageClock,
    facts: Facts,
    orders: list[OrderFact],
    reader: PurchaseReader,
    full_rows: bool,
    aside: bool,
) -> Computation:
    with engine.connect() as conn:
        previous_members = repo.load_member_persons(conn)
        previous = repo.load_person_states(conn)
        locks = repo.load_locks(conn)
        last_choice = repo.last_model_choice(conn)
        finder = MatchFinder.read(conn, now, options.match_weights_days)
        carried = load_carried(conn) if options.carry_over and not full_rows else None
        clock.mark("load")
        people = cluster_people(facts, options.identity, previous_members, match=True, find=finder)
        index, clusters, links, assignment = (
            people.index,
            people.clusters,
            people.links,
            people.assignment,
        )
        matches = people.matches or Matches()
        del previous_members, people
        clock.mark("identity")
        entries, purchases, unattributed = entries_by_person(
            reader.grouped(conn, orders), index, assignment, options.identity
        )
    del orders
    clock.mark("purchases")
    states = repo.load_tier_states(previous)
    ctx = Context(
        options.program,
        options.identity,
        options.metrics,
        now,
        Decimal(90),
        options.min_visits_for_own_cycle,
    )
    work = Everyone(
        clusters,
        assignment,
        entries,
        facts,
        ctx,
        states,
        locks,
        index.placeholders.emails,
        options.predictions,
        None if full_rows else previous,
        carried,
        None
        if carried is None
        else Fingerprints(ctx, index.placeholders.emails, options.predictions),
    )
    del carried
    results, summaries = compute_everyone(work)
    carried_over = sum(r.carried for r in results)
    del entries
    clock.mark("persons")
    min_visits = options.min_visits_for_own_cycle
    cycle = store_cycle_days(
        r.average_cycle_days
        for r in results
        if r.average_cycle_days is not None and r.visits >= min_visits
    )
    for r in results:
        r.row["risk"] = risk_status(
            r.days_since_last, r.visits, r.average_cycle_days, cycle, min_visits
        )
    clock.mark("risk")
    pending = LateAside(results, summaries, options, last_choice, aside=aside)
    computed = Computation(
        facts,
        index,
        clusters,
        links,
        assignment,
        results,
        previous,
        purchases,
        unattributed,
        cycle,
        {},
        matches,
        finder,
        clock,
        carried_over,
        pending,
    )
    if not aside:
        take_predictions(computed, options)
    return computed


def take_predictions(computed: Computation, options: AnalyzeOptions) -> None:
    """The pending late columns (predictions, and the risk they confirm) written into
    every row."""
    pending = computed.pending
    if pending is None:
        return
    late = pending.result()
    computed.pending = None
    computed.predictions = late.summary
    computed.digests = late.digests
    computed.clock.mark("predictions")


def analyze_all(engine: Engine, options: AnalyzeOptions, now: datetime) -> AnalyzeReport:
    """Everyone computed and the differences written, in one transaction."""
    with collector_paused():
        return _analyze_all(engine, options, now)


def _analyze_all(engine: Engine, options: AnalyzeOptions, now: datetime) -> AnalyzeReport:
    began = time.perf_counter()
    computed = compute_all(engine, options, now, full_rows=False, late_aside=True)
    try:
        return _write_all(engine, options, now, computed, began)
    finally:
        if computed.pending is not None:
            computed.pending.close()


def _write_all(
    engine: Engine, options: AnalyzeOptions, now: datetime, computed: Computation, began: float
) -> AnalyzeReport:
    """What needs no prediction (the identity, the history, the carry-over fingerprints)
    written while the predictions are fitted aside, then the persons."""
    facts, index, links, assignment = (
        computed.facts,
        computed.index,
        computed.links,
        computed.assignment,
    )
    results, previous, cycle = computed.results, computed.previous, computed.store_cycle
    unattributed = computed.unattributed
    value_counts = placeholder_uses(index)
    with engine.begin() as conn:
        run_id = repo.start_run(conn, datetime.now(now.tzinfo), now, "all", None)
        # A first load's indexes of these are built again while the late columns are
        # still being worked out aside.
        first = (t.identity_members, t.identity_values, t.tier_history)
        with indexes_built_after(conn, first, full_rewrites(results, previous)):
            repo.replace_identity(
                conn, assignment, index.members, links, assignment, now, index.raw_emails
            )
            repo.replace_placeholders(conn, index.placeholders, value_counts)
            found = computed.matches
            matches_repo.replace_matches(
                conn,
                [(p, match_reason(p)) for p in found.auto],
                [(p, match_reason(p)) for p in found.suggested],
                now,
            )
            computed.match_finder.keep(conn)
            if options.carry_over:
                kept = {r.row["id"]: r.fingerprint for r in results if r.fingerprint is not None}
                save_inputs(conn, kept)
            delete_inputs(conn, vanished_persons(results, previous))
            history = [r.history for r in results if r.history is not None]
            repo.record_history(conn, [history_row(h, run_id) for h in history], run_id)
        computed.clock.mark("write_first")
        take_predictions(computed, options)
        predictions = computed.predictions
        plan = plan_writes(results, previous, computed.digests)
        computed.clock.mark("compare")
        with indexes_built_after(conn, (t.persons,), len(plan.full_rows)):
            repo.upsert_persons(conn, plan.full_rows, plan.full_hashes)
            repo.update_late_columns(conn, plan.late_rows, plan.late_hashes, plan.late_stored)
            repo.delete_persons(conn, plan.vanished)
        if options.emit_events and (previous or options.announce_first_analysis):
            events_repo.enqueue_for_runs(conn, [run_id], datetime.now(UTC))
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
            rows_written=plan.rows_written,
            purchases=computed.purchases,
            unattributed_purchases=unattributed,
            placeholders=len(index.placeholders.emails) + len(index.placeholders.phones),
            store_cycle_days=cycle,
            predictions=predictions,
            seconds=0.0,
            matches=computed.matches.summary(),
            carried_over=computed.carried_over,
        )
        computed.clock.mark("write")
        report.stages = computed.clock.seconds
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
                "matches": computed.matches.summary(),
                "seconds": report.seconds,
                "stages": report.stages,
                "carried_over": report.carried_over,
            },
        )
    return report
