"""A full analysis that carries unchanged persons over gives what computing them gives.

A store is analysed at a run of moments (the same moment again, hours, days, past the
90-day windows and reviews) with profiles edited and sales added in between; before
each analysis, everyone is computed both ways from the same stored state and the two
must agree person by person: rows, digests, tier changes, the risk rule's inputs and the
predictions.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, update

from greenloop.analytics import per_person, run
from greenloop.config import Settings
from greenloop.services import analysis, ingest
from greenloop.store import tables as t
from tests.simulation import ANCHOR, running_simulator, settings_for, small_store

STORE = small_store(seed=11, customers=150, days=240)


@pytest.fixture
def synced(engine: Engine, db_url: str) -> Settings:
    with running_simulator(STORE) as sim:
        # Small enough thresholds for the models to be fitted on this store.
        ready = {"min_customers_for_predictions": 50, "min_repeat_customers_for_predictions": 20}
        settings = settings_for(sim.url, db_url, analytics=ready)
        ingest.run_sync(settings)
    return settings


def _both_ways(engine: Engine, settings: Settings, now: datetime) -> tuple[Any, Any]:
    options = analysis.analyze_options(settings)
    computed = run.compute_all(engine, replace(options, carry_over=False), now, full_rows=False)
    carried = run.compute_all(engine, options, now, full_rows=False)
    return computed, carried


def _kept(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.person_inputs)).scalar_one())


def _outcomes(computation: Any) -> list[tuple[Any, ...]]:
    return [
        (r.row, r.digest, r.history, r.days_since_last, r.visits, r.average_cycle_days)
        for r in computation.results
    ]


def _predictions(computation: Any) -> dict[str, Any]:
    return {k: v for k, v in computation.predictions.items() if k != "fit_seconds"}


def _edit_profiles(engine: Engine, step: int) -> None:
    c = t.customers.c
    with engine.begin() as conn:
        ids = conn.execute(select(c.id).order_by(c.id).limit(3).offset(step * 3)).scalars().all()
        conn.execute(update(t.customers).where(c.id == ids[0]).values(first_name="Renamed"))
        conn.execute(
            update(t.customers)
            .where(c.id == ids[1])
            .values(enable_loyalty=~c.enable_loyalty, version=c.version + 1)
        )


def _add_sales(engine: Engine, when: datetime, customers: int) -> None:
    """Each of a few customers buys again what they last bought, at ``when``."""
    s = t.sales.c
    plain = (s.status == "CLOSED", s.return_for.is_(None), s.customer_id.is_not(None))
    latest: dict[str, dict[str, Any]] = {}
    with engine.begin() as conn:
        for sale in conn.execute(select(t.sales).where(*plain).order_by(s.sale_date)).mappings():
            latest[sale["customer_id"]] = dict(sale)
        tag = when.strftime("-%Y%m%d%H")
        again = [
            sale
            | {
                "id": sale["id"] + tag,
                "invoice_number": sale["invoice_number"] + tag,
                "sale_date": when,
                "created_at": when,
                "updated_at": when,
                "version": sale["version"] + 10**9,
            }
            for _customer, sale in sorted(latest.items())[:customers]
        ]
        conn.execute(insert(t.sales), again)


MOMENTS = (
    timedelta(0),
    timedelta(0),
    timedelta(hours=6),
    timedelta(days=1),
    timedelta(days=2, hours=5),
    timedelta(days=31),
    timedelta(days=92),
    timedelta(days=200),
)


@pytest.mark.parametrize("split", [False, True], ids=["one-process", "two-processes"])
def test_carrying_over_gives_what_computing_gives(
    synced: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch, split: bool
) -> None:
    if split:
        if per_person.cpus() < 2:
            pytest.skip("needs two CPUs")
        monkeypatch.setattr(per_person, "PARALLEL_MIN_PERSONS", 0)
    analysis.analyze(synced, now=ANCHOR - timedelta(days=1))
    carried_somewhere = False
    for step, offset in enumerate(MOMENTS):
        now = ANCHOR + offset
        if step in (3, 6):
            _edit_profiles(engine, step)
        if step in (2, 5):
            _add_sales(engine, now - timedelta(hours=1), customers=4)
        computed, carried = _both_ways(engine, synced, now)
        assert _outcomes(carried) == _outcomes(computed), now
        assert _predictions(carried) == _predictions(computed), now
        assert computed.predictions.get("fitted"), computed.predictions
        assert all(r.fingerprint is None for r in computed.results)  # nothing kept when off
        reused = sum(r.carried for r in carried.results)
        if step in (2, 3, 5, 6):
            assert reused < len(carried.results)  # the edited persons are computed
        carried_somewhere = carried_somewhere or reused > 0
        analysis.analyze(synced, now=now)
    assert carried_somewhere


def test_the_same_moment_again_carries_everyone_whose_row_holds(
    synced: Settings, engine: Engine
) -> None:
    # A first analysis dates everyone's state at its own moment: nobody's row holds
    # past it, and nothing is kept. From the second on, most persons keep their state.
    analysis.analyze(synced, now=ANCHOR - timedelta(days=1))
    assert _kept(engine) == 0
    analysis.analyze(synced, now=ANCHOR)
    assert _kept(engine) > 0
    _computed, carried = _both_ways(engine, synced, ANCHOR)
    held = [r for r in carried.results if r.carried]
    assert len(held) > len(carried.results) // 2
    again = analysis.analyze(synced, now=ANCHOR)
    assert (again.changed, again.rows_written) == (0, 0)


def test_a_rewritten_row_or_other_rules_are_computed_again(
    synced: Settings, engine: Engine
) -> None:
    analysis.analyze(synced, now=ANCHOR - timedelta(days=1))
    analysis.analyze(synced, now=ANCHOR)
    later = ANCHOR + timedelta(hours=1)
    _computed, carried = _both_ways(engine, synced, later)
    held = [r.row["id"] for r in carried.results if r.carried]
    assert held
    # A one-person recompute rewrote this row since: it is computed, not carried.
    with engine.begin() as conn:
        conn.execute(update(t.persons).where(t.persons.c.id == held[0]).values(row_hash="0" * 32))
    _computed, carried = _both_ways(engine, synced, later)
    fresh = {r.row["id"] for r in carried.results if not r.carried}
    assert held[0] in fresh
    # Another downgrade policy: every person is computed again.
    options = analysis.analyze_options(synced)
    policy = replace(options.program.downgrade, review_days=60)
    options = replace(options, program=replace(options.program, downgrade=policy))
    again = run.compute_all(engine, options, later, full_rows=False)
    assert not any(r.carried for r in again.results)
