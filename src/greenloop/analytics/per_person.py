"""The per-person stage of a full analysis: each person computed (or carried over), in
two processes on a large store with a second CPU.

Every person is computed alone from what :class:`Everyone` holds, so the clusters split
into two shares: the parent computes the first, a forked process the rest and sends its
results back packed (:mod:`~greenloop.analytics.transfer`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from greenloop.analytics import transfer
from greenloop.analytics.carry_over import Carry, Fingerprints, PersonKey
from greenloop.analytics.compute import Context, compute_person
from greenloop.analytics.facts import Facts
from greenloop.analytics.outcome import Computed, Outcome, RawEntry
from greenloop.analytics.predict import summary_of
from greenloop.analytics.purchase_rows import parse_entries
from greenloop.domain.purchases import Timeline
from greenloop.domain.replay import Lock
from greenloop.domain.tiers import TierState
from greenloop.process.forked import Forked, can_fork
from greenloop.store import analytics_repo as repo

if TYPE_CHECKING:
    from greenloop.domain.predictions import CustomerSummary

__all__ = ["PARALLEL_MIN_PERSONS", "WORKER_SHARE", "Everyone", "compute_everyone", "cpus"]


@dataclass
class Everyone:
    """What the per-person stage reads (a forked worker sees it as it is)."""

    clusters: Sequence[Sequence[str]]
    assignment: Mapping[str, str]
    entries: dict[str, list[RawEntry]]  # as text, in the order read
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
    # The last fingerprints, when unchanged persons are carried over (analytics.carry_over).
    carried: Mapping[str, bytes] | None = None  # packed (person_inputs.unpack)
    fingerprints: Fingerprints | None = None


def _compute_share(everyone: Everyone, start: int, stop: int) -> Computed:
    """:func:`compute_person` for clusters[start:stop] (or their rows carried over), with
    the early part of each row's digest and the prediction summaries."""
    ctx = everyone.ctx
    now, zone, stored = ctx.now, ctx.metrics.store_zone, everyone.stored
    summaries: dict[str, CustomerSummary] = {}
    results: list[Outcome] = []
    carry = None
    if everyone.fingerprints is not None:
        carry = Carry(
            everyone.fingerprints,
            everyone.carried or {},
            stored or {},
            everyone.facts,
            ctx,
            everyone.predictions,
        )
    for members in everyone.clusters[start:stop]:
        pid = everyone.assignment[members[0]]
        # Each person's entries go once they are computed, to keep the peak down.
        entries = everyone.entries.pop(pid, [])
        previous, lock = everyone.states.get(pid), everyone.locks.get(pid)
        person = PersonKey(pid, members, entries, previous, lock)
        inputs = None
        if carry is not None:
            inputs, taken = carry.take(person)
            if taken is not None:
                outcome, summary = taken
                results.append(outcome)
                if summary is not None:
                    summaries[pid] = summary
                continue
        timeline = Timeline(parse_entries(entries))
        summary = summary_of(timeline, now, zone) if everyone.predictions else None
        if summary is not None:
            summaries[pid] = summary
        result = compute_person(
            pid, members, timeline, everyone.facts, ctx, previous, lock, everyone.placeholder_emails
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
                None if carry is None else carry.keep(person, inputs, digest, result, summary),
            )
        )
    return results, summaries


# Below this many persons a second process costs more than it saves.
PARALLEL_MIN_PERSONS = 40_000
# The forked process' share of the persons: it also packs its results, which costs about
# a third of computing them (measured on 200,000 persons), and the parent unpacks them
# once it has computed its own; this share has both end at about the same moment.
WORKER_SHARE = 0.44


def compute_everyone(everyone: Everyone) -> Computed:
    """The per-person stage, its last :data:`WORKER_SHARE` in a forked process when there
    are many persons and a second CPU: it is most of a full analysis' time, and each
    person is computed alone. Results come back in cluster order either way."""
    count = len(everyone.clusters)
    if count < PARALLEL_MIN_PERSONS or not can_fork(cpus()):
        return _compute_share(everyone, 0, count)
    if everyone.predictions:
        # Imported once, before the fork, rather than once in each process.
        import greenloop.domain.predictions  # noqa: F401

    mine = count - int(count * WORKER_SHARE)
    worker = Forked(partial(_worker, everyone, mine, count))
    try:
        results, summaries = _compute_share(everyone, 0, mine)
        everyone.entries.clear()  # the worker's share, computed there
        try:
            theirs, their_summaries = transfer.unpack(worker.receive())
        except EOFError:
            raise RuntimeError("the second analysis process failed") from None
        worker.done()
    finally:
        worker.close()
    results.extend(theirs)
    summaries.update(their_summaries)
    return results, summaries


def cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _worker(everyone: Everyone, start: int, stop: int, send: Any) -> None:
    send.send_bytes(transfer.pack(*_compute_share(everyone, start, stop)))
    send.close()
