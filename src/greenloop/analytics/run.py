"""``greenloop analyze``: everyone's identity, metrics, tier and risk, in one transaction.

The rules are recomputed from the facts on every run (they are pure and fast, and
time-windowed figures change daily anyway); only persons whose figures changed are
written, tier changes are appended to the history, and the day's snapshot of tier
counts is replaced. A one-person recompute for the real-time path lives in
:mod:`greenloop.analytics.person`.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from greenloop.analytics import transfer
from greenloop.analytics.compute import Context, MemberIndex, compute_person
from greenloop.analytics.facts import Facts, load_people
from greenloop.analytics.match_cache import MatchFinder
from greenloop.analytics.matches import Matches, match_reason
from greenloop.analytics.options import AnalyzeOptions, history_row
from greenloop.analytics.outcome import Computed, Entry, Outcome
from greenloop.analytics.people import cluster_people
from greenloop.analytics.predict import apply_predictions, summary_of
from greenloop.analytics.purchase_rows import PurchaseReader, entries_by_person
from greenloop.analytics.stages import StageClock
from greenloop.analytics.writes import placeholder_uses, plan_writes
from greenloop.domain.identity import Link
from greenloop.domain.purchases import OrderFact, Timeline
from greenloop.domain.replay import Lock
from greenloop.domain.risk import confirmed_by_model, risk_status, store_cycle_days
from greenloop.domain.tiers import TierState
from greenloop.process.collector import collector_paused
from greenloop.store import analytics_repo as repo
from greenloop.store import events_repo, matches_repo
from greenloop.store import tables as t
from greenloop.store.bulk_indexes import indexes_built_after

if TYPE_CHECKING:
    from greenloop.domain.predictions import CustomerSummary

__all__ = ["AnalyzeReport", "Computation", "analyze_all", "compute_all"]


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
    # Seconds per stage: load, identity, purchases, persons, risk, predictions, compare
    # (row digests against the stored ones), write.
    stages: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        data["store_cycle_days"] = str(self.store_cycle_days)
        return data


@dataclass
class _People:
    """What the per-person stage reads (a forked worker sees it as it is)."""

    clusters: Sequence[Sequence[str]]
    assignment: Mapping[str, str]
    entries: dict[str, list[Entry]]
    facts: Facts
    ctx: Context
    states: Mapping[str, TierState]
    locks: Mapping[str, Lock]
    placeholder_emails: Mapping[str, str]
    predictions: bool
    # The stored persons, when the rows of those whose columns but the late ones are
    # stored unchanged are reduced to :func:`~analytics_repo.late_row` (all a writing
    # analysis needs of them: less to carry between processes and to keep in memory).
    stored: Mapping[str, repo.Stored] | None = None


def _compute_people(people: _People, start: int, stop: int) -> Computed:
    """:func:`compute_person` for clusters[start:stop], with the early part of each row's
    digest and the prediction summaries."""
    ctx = people.ctx
    zone = ctx.metrics.store_zone
    stored = people.stored
    summaries: dict[str, CustomerSummary] = {}
    results: list[Outcome] = []
    for members in people.clusters[start:stop]:
        pid = people.assignment[members[0]]
        # Each person's entries go once they are computed, to keep the peak down.
        timeline = Timeline(people.entries.pop(pid, ()))
        result = compute_person(
            pid,
            members,
            timeline,
            people.facts,
            ctx,
            people.states.get(pid),
            people.locks.get(pid),
            people.placeholder_emails,
        )
        metrics = result.metrics
        row, digest = result.row, repo.early_digest(result.row)
        before = stored.get(pid) if stored is not None else None
        if before is not None and repo.early_unchanged(before.row_hash, digest):
            row = repo.late_row(pid, row["computed_at"])
        results.append(
            Outcome(
                row,
                digest,
                result.history,
                metrics.days_since_last,
                metrics.visits,
                metrics.average_cycle_days,
            )
        )
        if people.predictions:
            summary = summary_of(timeline, ctx.now, zone)
            if summary is not None:
                summaries[pid] = summary
    return results, summaries


# Below this many persons a second process costs more than it saves.
PARALLEL_MIN_PERSONS = 40_000
# The forked process' share of the persons: it also packs its results, which costs about
# a third of computing them (measured on 200,000 persons), and the parent unpacks them
# once it has computed its own; this share has both end at about the same moment.
WORKER_SHARE = 0.44


def _compute_everyone(people: _People) -> Computed:
    """The per-person stage, its last :data:`WORKER_SHARE` in a forked process when there
    are many persons and a second CPU: it is most of a full analysis' time, and each
    person is computed alone. Results come back in cluster order either way."""
    count = len(people.clusters)
    if (
        count < PARALLEL_MIN_PERSONS
        or _cpus() < 2
        or "fork" not in multiprocessing.get_all_start_methods()
    ):
        return _compute_people(people, 0, count)
    if people.predictions:
        # Imported once, before the fork, rather than once in each process.
        import greenloop.domain.predictions  # noqa: F401

    fork = multiprocessing.get_context("fork")
    receive, send = fork.Pipe(duplex=False)
    mine = count - int(count * WORKER_SHARE)
    worker = fork.Process(target=_worker, args=(people, mine, count, send), daemon=True)
    worker.start()
    send.close()
    try:
        results, summaries = _compute_people(people, 0, mine)
        people.entries.clear()  # the worker's share, computed there
        try:
            theirs, their_summaries = transfer.unpack(receive.recv_bytes())
        except EOFError:
            raise RuntimeError("the second analysis process failed") from None
    finally:
        receive.close()
        worker.join()
    results.extend(theirs)
    summaries.update(their_summaries)
    return results, summaries


def _cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _worker(people: _People, start: int, stop: int, send: Any) -> None:
    send.send_bytes(transfer.pack(*_compute_people(people, start, stop)))
    send.close()


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


def compute_all(
    engine: Engine, options: AnalyzeOptions, now: datetime, *, full_rows: bool = True
) -> Computation:
    """Identity, metrics, tiers (with last run's states) and risk for everyone.

    ``full_rows=False``: a person whose columns but :data:`~analytics_repo.LATE_COLUMNS`
    are stored unchanged gets a :func:`~analytics_repo.late_row` (for writing them)."""
    with collector_paused():
        return _compute_all(engine, options, now, full_rows)


def _compute_all(
    engine: Engine, options: AnalyzeOptions, now: datetime, full_rows: bool
) -> Computation:
    clock = StageClock()
    with engine.connect() as conn:
        facts, orders = load_people(conn)
    reader = PurchaseReader(engine, orders, options.counting, _cpus())
    try:
        return _compute_with(engine, options, now, clock, facts, orders, reader, full_rows)
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
) -> Computation:
    with engine.connect() as conn:
        previous_members = repo.load_member_persons(conn)
        previous = repo.load_person_states(conn)
        locks = repo.load_locks(conn)
        last_choice = repo.last_model_choice(conn)
        finder = MatchFinder.read(conn)
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
            reader.rows(conn), index, assignment, options
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
    work = _People(
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
    )
    results, summaries = _compute_everyone(work)
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
    predictions = (
        apply_predictions([r.row for r in results], summaries, options, last_choice)
        if options.predictions
        else {"ready": False, "reasons": ["predictions are turned off (analytics.predictions)"]}
    )
    if predictions.get("fitted"):
        for r in results:
            r.row["risk"] = confirmed_by_model(
                r.row["risk"], r.row.get("expected_purchases_90d"), options.at_risk_expected_below
            )
    clock.mark("predictions")
    return Computation(
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
        predictions,
        matches,
        finder,
        clock,
    )


def analyze_all(engine: Engine, options: AnalyzeOptions, now: datetime) -> AnalyzeReport:
    """Everyone computed and the differences written, in one transaction."""
    with collector_paused():
        return _analyze_all(engine, options, now)


def _analyze_all(engine: Engine, options: AnalyzeOptions, now: datetime) -> AnalyzeReport:
    began = time.perf_counter()
    computed = compute_all(engine, options, now, full_rows=False)
    facts, index, links, assignment = (
        computed.facts,
        computed.index,
        computed.links,
        computed.assignment,
    )
    results, previous, cycle = computed.results, computed.previous, computed.store_cycle
    predictions, unattributed = computed.predictions, computed.unattributed
    plan = plan_writes(results, previous)
    history = [r.history for r in results if r.history is not None]
    value_counts = placeholder_uses(index)
    computed.clock.mark("compare")
    with engine.begin() as conn:
        run_id = repo.start_run(conn, datetime.now(now.tzinfo), now, "all", None)
        bulk = (t.identity_members, t.identity_values, t.persons, t.tier_history)
        with indexes_built_after(conn, bulk, len(plan.full_rows)):
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
            repo.upsert_persons(conn, plan.full_rows, plan.full_hashes)
            repo.update_late_columns(conn, plan.late_rows, plan.late_hashes, plan.late_stored)
            repo.delete_persons(conn, plan.vanished)
            repo.record_history(conn, [history_row(h, run_id) for h in history], run_id)
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
            },
        )
    return report
