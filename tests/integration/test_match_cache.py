"""A full analysis reuses the last one's match scoring while its inputs are unchanged,
scores only the changed records' pairs (with the kept weights) after a day's edits, and
learns and scores everything again when the rules, the code or the weights' age say so."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from greenloop.analytics.compute import MemberIndex
from greenloop.analytics.facts import Facts, load_people
from greenloop.analytics.match_cache import (
    CACHE_NAME,
    Kept,
    MatchFinder,
    changed_records,
    record_digests,
)
from greenloop.analytics.matches import Matches, decided_pairs, match_records, score_across
from greenloop.analytics.people import cluster_people
from greenloop.config import Settings
from greenloop.domain.identity import IdentityRules
from greenloop.services import analysis, ingest
from greenloop.services.analysis import analyze_options
from greenloop.simulator.ecom_export import write_ecom_export
from greenloop.simulator.generator import GeneratorConfig, generate_store
from greenloop.store import tables as t
from greenloop.store.service_state import read_value
from tests.simulation import ANCHOR, running_simulator, settings_for


@dataclass
class Synced:
    settings: Settings
    engine: Engine
    db_url: str


@pytest.fixture
def synced(engine: Engine, db_url: str, tmp_path: Path) -> Synced:
    store = generate_store(
        GeneratorConfig(seed=5, customers=700, days=360, anchor=ANCHOR, identity_noise=3.0)
    )
    export = tmp_path / "orders.csv"
    with running_simulator(store) as sim:
        settings = settings_for(sim.url, db_url)
        write_ecom_export(store.ecom_orders, export, timezone=settings.ecom.timezone)
        ingest.run_sync(settings)
        ingest.import_ecom(settings, [export])
    return Synced(settings, engine, db_url)


def stored(engine: Engine) -> dict[str, Any]:
    x, m, p = t.identity_matches.c, t.identity_members.c, t.persons.c
    with engine.connect() as conn:
        return {
            "matches": sorted(conn.execute(select(x.a, x.b, x.kind, x.evidence)).all()),
            "members": sorted(conn.execute(select(m.member_key, m.person_id)).all()),
            "persons": sorted(conn.execute(select(p.id, p.tier, p.lifetime_value)).all()),
        }


def test_an_unchanged_store_takes_the_last_pairs_and_they_equal_a_fresh_scoring(
    synced: Synced,
) -> None:
    first = analysis.analyze(synced.settings, now=ANCHOR)
    assert first.matches["reused"] is False
    assert first.matches["auto_links"] > 0
    assert first.matches["suggestions"] > 0
    after_first = stored(synced.engine)

    second = analysis.analyze(synced.settings, now=ANCHOR)
    assert second.matches["reused"] is True
    assert second.matches["scored_records"] == 0
    assert second.matches["weights_learnt"] is False
    how = ("seconds", "reused", "scored_records", "weights_learnt")
    assert {k: v for k, v in second.matches.items() if k not in how} == {
        k: v for k, v in first.matches.items() if k not in how
    }
    assert stored(synced.engine) == after_first

    # Without the cache the same pairs are scored again, and everything stays the same.
    with synced.engine.begin() as conn:
        conn.execute(delete(t.service_state).where(t.service_state.c.name == CACHE_NAME))
    third = analysis.analyze(synced.settings, now=ANCHOR)
    assert third.matches["reused"] is False
    assert stored(synced.engine) == after_first


def test_a_changed_profile_scores_its_pairs_and_a_rule_learns_again(synced: Synced) -> None:
    first = analysis.analyze(synced.settings, now=ANCHOR).matches
    assert first["reused"] is False
    assert first["weights_learnt"] is True
    # Nothing changed: the pairs are reused.
    assert analysis.analyze(synced.settings, now=ANCHOR).matches["reused"] is True

    c = t.customers.c
    with synced.engine.begin() as conn:
        some = conn.execute(select(c.id).where(c.deleted_at.is_(None)).limit(1)).scalar_one()
        conn.execute(update(t.customers).where(c.id == some).values(first_name="Zebulon"))
    changed = analysis.analyze(synced.settings, now=ANCHOR).matches
    assert changed["reused"] is False
    assert changed["weights_learnt"] is False
    # The renamed profile, and the members of its exact cluster (if it has one).
    assert 1 <= changed["scored_records"] <= 10
    assert analysis.analyze(synced.settings, now=ANCHOR).matches["reused"] is True

    # A week on, the weights are learnt again, whatever changed.
    later = analysis.analyze(synced.settings, now=ANCHOR + timedelta(days=7)).matches
    assert later["weights_learnt"] is True

    stricter = settings_for(
        synced.settings.lightspeed.base_url or "",
        synced.db_url,
        identity={"suggest_probability": 0.95},
    )
    report = analysis.analyze(stricter, now=ANCHOR + timedelta(days=7))
    assert report.matches["reused"] is False
    assert report.matches["weights_learnt"] is True

    # Damaged text is not trusted: the weights are learnt and every pair scored again.
    with synced.engine.begin() as conn:
        kept = json.loads(read_value(conn, CACHE_NAME) or "{}")
        garbled = json.dumps({**kept, "pairs": [["only", "two"]]})
        conn.execute(
            update(t.service_state)
            .where(t.service_state.c.name == CACHE_NAME)
            .values(value=garbled)
        )
    again = analysis.analyze(stricter, now=ANCHOR + timedelta(days=7)).matches
    assert again["weights_learnt"] is True
    assert analysis.analyze(stricter, now=ANCHOR + timedelta(days=7)).matches["reused"] is True


def _scoring_inputs(synced: Synced) -> dict[str, Any]:
    """What a full analysis hands match scoring: the facts, members, exact clusters, rules."""
    options = analyze_options(synced.settings)
    with synced.engine.connect() as conn:
        facts, _orders = load_people(conn)
    seen: dict[str, Any] = {}

    def capture(
        facts: Facts, index: MemberIndex, clusters: Sequence[Sequence[str]], rules: IdentityRules
    ) -> Matches:
        seen.update(facts=facts, index=index, clusters=clusters, rules=rules)
        return Matches()

    cluster_people(facts, options.identity, {}, match=True, find=capture)
    return seen


def _edit_a_day(engine: Engine, leaving: str, clustered: set[str]) -> None:
    """Edits touching matching every way: a typo'd copy of another's email (a new likely
    pair), a new phone, a new surname, a profile deleted (still a record: its purchases
    remain), one joining another's exact cluster by taking its email and names, and
    ``leaving`` its cluster (new email and phones). The others are picked from profiles
    outside any exact cluster (``clustered``: those in one)."""
    c = t.customers.c
    with engine.begin() as conn:
        rows = conn.execute(
            select(c.id, c.email, c.first_name, c.last_name)
            .where(c.deleted_at.is_(None), c.email.is_not(None))
            .order_by(c.id)
        ).all()
        emails = [row.email for row in rows]
        plain = [
            row
            for row in rows
            if emails.count(row.email) == 1 and "@" in row.email and row.id not in clustered
        ]

        def edit(customer_id: str, **values: Any) -> None:
            conn.execute(update(t.customers).where(c.id == customer_id).values(**values))

        source = plain[0]
        local, _, domain = source.email.partition("@")
        edit(
            plain[1].id,
            email=f"{local[:-2]}{local[-1]}{local[-2]}@{domain}",
            first_name=source.first_name,
            last_name=source.last_name,
        )
        edit(plain[2].id, mobile="+1 312 555 0199")
        edit(plain[3].id, last_name="Quarrington")
        edit(plain[4].id, deleted_at=ANCHOR)
        joined = plain[6]
        edit(
            plain[5].id,
            email=joined.email,
            first_name=joined.first_name,
            last_name=joined.last_name,
        )
        edit(leaving, email="left.the.family@example.org", phone=None, mobile="+1 312 555 0142")


def test_scoring_only_the_changed_records_finds_what_scoring_all_with_those_weights_does(
    synced: Synced,
) -> None:
    before = _scoring_inputs(synced)
    full = MatchFinder(None, ANCHOR)
    full(**before)
    assert full.fresh is not None
    kept = Kept.loads(full.fresh)
    assert kept is not None
    assert kept.pairs

    together = next(
        members
        for members in before["clusters"]
        if sum(key.startswith("customer:") for key in members) > 1
    )
    leaving = next(key for key in together if key.startswith("customer:"))
    clustered = {
        key.removeprefix("customer:")
        for members in before["clusters"]
        if len(members) > 1
        for key in members
    }
    _edit_a_day(synced.engine, leaving.removeprefix("customer:"), clustered)
    after = _scoring_inputs(synced)
    records = match_records(after["facts"], after["index"])
    decided = decided_pairs(after["facts"])
    partial = MatchFinder(full.fresh, ANCHOR + timedelta(days=1))
    matches = partial(**after)
    assert matches.weights_learnt is False
    changed, _gone = changed_records(kept, record_digests(records, after["clusters"]), decided)
    assert len(changed) == matches.scored_records
    assert 6 <= matches.scored_records <= 30
    assert partial.fresh is not None
    found = Kept.loads(partial.fresh)
    assert found is not None
    assert found.weights == kept.weights

    everything, _ = score_across(
        records,
        after["clusters"],
        decided,
        after["rules"],
        weights=kept.weights,
    )
    assert {(p.a, p.b) for p in found.pairs} == {(p.a, p.b) for p in everything}
    by_pair = {(p.a, p.b): p for p in everything}
    rescored = 0
    for pair in found.pairs:
        alone = by_pair[pair.a, pair.b]
        assert pair.levels == alone.levels
        if {pair.a, pair.b} & changed:
            rescored += 1
            assert pair.score == alone.score
        else:
            # Between unchanged records a pair keeps its score; the share of records
            # bearing a name whose count changed today moves until the next learning.
            assert pair.probability == pytest.approx(alone.probability, abs=0.01)
    assert rescored
    # The typo'd email made a pair no one had before, and it was found.
    assert {(p.a, p.b) for p in found.pairs} - {(p.a, p.b) for p in kept.pairs}

    # The same day again: nothing changed, nothing is scored.
    again = MatchFinder(partial.fresh, ANCHOR + timedelta(days=1))
    assert again(**after).reused is True
    assert again.fresh is None


def test_a_day_changing_many_records_learns_the_weights_again(synced: Synced) -> None:
    before = _scoring_inputs(synced)
    full = MatchFinder(None, ANCHOR)
    full(**before)
    c = t.customers.c
    with synced.engine.begin() as conn:
        ids = conn.execute(select(c.id).where(c.deleted_at.is_(None)).order_by(c.id)).scalars()
        for n, customer_id in enumerate(list(ids)[::10]):
            conn.execute(
                update(t.customers).where(c.id == customer_id).values(mobile=f"+1312555{n:04d}")
            )
    matches = MatchFinder(full.fresh, ANCHOR + timedelta(days=1))(**_scoring_inputs(synced))
    assert matches.weights_learnt is True
    assert matches.scored_records == len(match_records(before["facts"], before["index"]))
