"""A full analysis reads every person's state straight from the driver on SQLite: the
same values as the typed query gives."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import Engine

from greenloop.services import analysis, ingest
from greenloop.store import analytics_repo as repo
from tests.simulation import ANCHOR, running_simulator, settings_for, small_store

STORE = small_store(seed=5, customers=80, days=200)


def test_every_persons_state_and_member_read_at_once_equal_the_typed_read(
    engine: Engine, db_url: str
) -> None:
    with running_simulator(STORE) as sim:
        settings = settings_for(sim.url, db_url)
        ingest.run_sync(settings)
    analysis.analyze(settings, now=ANCHOR)
    with engine.connect() as conn:
        states = repo.load_person_states(conn)
        members = repo.load_member_persons(conn)
        # Named ids take the typed query's path.
        assert states == repo.load_person_states(conn, list(states))
        assert members == repo.load_member_persons(conn, sorted(set(members.values())))
    assert len(states) > 20
    assert len(members) >= len(states)
    moments = [m for s in states.values() for m in (s.tier_since, s.review_at) if m is not None]
    assert moments
    assert all(m.tzinfo is UTC for m in moments)
    assert all(s.row_hash for s in states.values())
