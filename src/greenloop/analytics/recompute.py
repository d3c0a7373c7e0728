"""Recompute one person (the real-time path): a changed profile or a new sale.

The profile's person and every person that now shares an email, phone or code with it
are re-clustered together, with the placeholders of the last full analysis (counting
shared values needs everyone, which only the full run reads). The same
:func:`~greenloop.analytics.compute.compute_person` as the full run decides the tier, so
the two paths agree. Everything is read by index: milliseconds, not a table scan.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Connection, Engine, select

from greenloop.analytics.compute import (
    Context,
    build_members,
    compute_persons,
)
from greenloop.analytics.facts import load_scoped
from greenloop.analytics.options import AnalyzeOptions, history_row
from greenloop.analytics.people import cluster_people, group_purchases
from greenloop.domain.identity import Placeholders, normalise_email, normalise_phone
from greenloop.domain.risk import confirmed_by_model
from greenloop.store import analytics_repo as repo
from greenloop.store import events_repo
from greenloop.store import tables as t

__all__ = ["RecomputeResult", "recompute_customer"]


@dataclass
class RecomputeResult:
    persons: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    tier_changes: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    seconds: float = 0.0
    # Each recomputed person's tier (a what-if reads the answer from here).
    tiers: dict[str, str | None] = field(default_factory=dict)
    # Member key → person id after the recompute.
    assignment: dict[str, str] = field(default_factory=dict)


def _store_cycle(conn: Connection) -> Decimal:
    detail = conn.execute(
        select(t.analyze_runs.c.detail)
        .where(t.analyze_runs.c.scope == "all", t.analyze_runs.c.outcome == "ok")
        .order_by(t.analyze_runs.c.id.desc())
        .limit(1)
    ).scalar()
    try:
        return Decimal(str((detail or {}).get("store_cycle_days", "90")))
    except ArithmeticError:
        return Decimal(90)


def _neighbours(
    conn: Connection,
    customer_ids: Collection[str],
    options: AnalyzeOptions,
    known: Placeholders,
) -> set[str]:
    """Member keys sharing a non-placeholder identity value with these profiles."""
    c = t.customers.c
    rules = options.identity
    values: set[tuple[str, str]] = set()
    rows = conn.execute(
        select(c.email, c.phone, c.mobile, c.customer_code).where(c.id.in_(list(customer_ids)))
    )
    for row in rows:
        email = normalise_email(row.email, rules)
        if email:
            values.add(("email", email))
        for raw in (row.phone, row.mobile):
            phone = normalise_phone(raw, rules)
            if phone:
                values.add(("phone", phone))
        if row.customer_code:
            values.add(("code", row.customer_code.strip().lower()))
    values = {
        (k, v)
        for k, v in values
        if not (k == "email" and v in known.emails) and not (k == "phone" and v in known.phones)
    }
    return repo.members_sharing(conn, values)


def recompute_customer(
    engine: Engine,
    options: AnalyzeOptions,
    customer_ids: Collection[str],
    now: datetime,
    *,
    members: Collection[str] = (),
    cause: str = "",
    join: tuple[str, str] | None = None,
) -> RecomputeResult:
    """Re-cluster and recompute the persons of these profiles and their neighbours.

    One transaction, reading by index and writing only what changed: on PostgreSQL each
    statement is a round trip, and those are most of the time here. ``members``: more
    member keys in scope (an eCom buyer's ``email:…``). ``cause`` is added to the reason
    of every tier change written ("profiles joined by staff"). ``join``: a what-if, as if
    these two members were linked; nothing is written and the result carries the tiers."""
    began = time.perf_counter()
    with engine.connect() if join else engine.begin() as conn:
        known = repo.load_placeholders(conn)
        seed_keys = {f"customer:{cid}" for cid in customer_ids} | set(members)
        seed_keys |= _neighbours(conn, customer_ids, options, known)
        members_now, values_now = repo.load_scope(conn, seed_keys)
        old_persons = set(members_now.values())
        customers = {k.removeprefix("customer:") for k in members_now if k.startswith("customer:")}
        customers |= set(customer_ids)
        customers |= {k.removeprefix("customer:") for k in seed_keys if k.startswith("customer:")}
        emails = {
            value
            for key, found in values_now.items()
            if key.startswith("email:")
            for kind, value in found
            if kind == "raw_email"
        }
        orders = {k.removeprefix("order:") for k in members_now if k.startswith("order:")}
        emails |= {k.removeprefix("email:") for k in seed_keys if k.startswith("email:")}
        facts = load_scoped(conn, options.counting, customers, emails, orders)
        if join is not None:
            facts.manual_links.append(join)
        previous = repo.load_person_states(conn, old_persons, predictions=True)
        locks = repo.load_locks(conn, old_persons)
        links_now = repo.load_links(conn, old_persons) if old_persons else {}
        cycle = _store_cycle(conn)
        # An eCom email read in passing (a twin's order under another address) that
        # belongs to a person outside this scope stays there until the next full run.
        candidates = build_members(facts, options.identity, known).members
        outside = set(
            repo.load_member_keys_elsewhere(
                conn, [x.key for x in candidates if x.key not in members_now], old_persons
            )
        )
        people = cluster_people(
            facts, options.identity, members_now, known=known, leave_out=outside
        )
        index, clusters, links, assignment = (
            people.index,
            people.clusters,
            people.links,
            people.assignment,
        )
        by_person, _walk_in = group_purchases(facts, index, assignment, options.identity)
        states = repo.load_tier_states(previous)
        ctx = Context(
            options.program,
            options.identity,
            options.metrics,
            now,
            cycle,
            options.min_visits_for_own_cycle,
        )
        results = compute_persons(clusters, assignment, by_person, facts, ctx, states, locks, index)
        outcome = RecomputeResult(persons=[r.row["id"] for r in results])
        outcome.removed = sorted(old_persons - set(outcome.persons))
        history = [r.history for r in results if r.history is not None]
        outcome.tier_changes = [(h.person_id, h.from_tier, h.to_tier) for h in history]
        outcome.tiers = {r.row["id"]: r.row["tier"] for r in results}
        outcome.assignment = dict(assignment)
        if join is not None:
            return outcome
        for entry in history:
            if cause:
                entry.reason = f"{entry.reason} ({cause})"

        started = datetime.now(now.tzinfo)
        changes = Counter(h.person_id for h in history)
        # One run row per person, so a replay finds every moment a person was decided.
        ids = repo.record_runs(
            conn,
            [
                {
                    "started_at": started,
                    "finished_at": started,
                    "as_of": now,
                    "scope": "person",
                    "person_id": r.row["id"],
                    "outcome": "ok",
                    "persons": 1,
                    "profiles": r.row["profiles"],
                    "changed": changes[r.row["id"]],
                    "detail": {"tier": r.row["tier"], "scope_persons": outcome.persons},
                }
                for r in results
            ],
        )
        run_ids = dict(zip(outcome.persons, ids, strict=True))
        values = repo.member_values(index.members, assignment, index.raw_emails)
        wanted: dict[str, list[tuple[str, str, str]]] = {}
        for link in links:
            wanted.setdefault(assignment[link.a], []).append((link.a, link.b, link.reason))
        if dict(assignment) != members_now or values != values_now or wanted != links_now:
            repo.replace_identity(
                conn,
                assignment,
                index.members,
                links,
                assignment,
                now,
                index.raw_emails,
                scope=set(members_now) | set(assignment),
                old_persons=old_persons,
            )
        for result in results:
            # Predictions need everyone; keep the last full run's until the next one.
            old = previous.get(result.row["id"])
            result.row["p_alive"] = old.p_alive if old else None
            result.row["expected_purchases_90d"] = old.expected_purchases_90d if old else None
            result.row["predicted_value_12m"] = old.predicted_value_12m if old else None
            result.row["risk"] = confirmed_by_model(
                result.row["risk"],
                result.row["expected_purchases_90d"],
                options.at_risk_expected_below,
            )
        repo.upsert_persons(conn, [r.row for r in results])
        repo.delete_persons(conn, outcome.removed)
        repo.record_history(conn, [history_row(h, run_ids[h.person_id]) for h in history], 0)
        if options.emit_events and history:
            events_repo.enqueue_for_runs(
                conn, {run_ids[h.person_id] for h in history}, datetime.now(UTC)
            )
        outcome.seconds = time.perf_counter() - began
    return outcome
