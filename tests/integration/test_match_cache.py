"""A full analysis reuses the last one's match scoring while its inputs are unchanged,
and scores again when any of them changes: a profile, staff's word, the rules."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from greenloop.analytics.match_cache import CACHE_NAME
from greenloop.config import Settings
from greenloop.services import analysis, ingest
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
    assert {k: v for k, v in second.matches.items() if k not in ("seconds", "reused")} == {
        k: v for k, v in first.matches.items() if k not in ("seconds", "reused")
    }
    assert stored(synced.engine) == after_first

    # Without the cache the same pairs are scored again, and everything stays the same.
    with synced.engine.begin() as conn:
        conn.execute(delete(t.service_state).where(t.service_state.c.name == CACHE_NAME))
    third = analysis.analyze(synced.settings, now=ANCHOR)
    assert third.matches["reused"] is False
    assert stored(synced.engine) == after_first


def test_a_changed_profile_or_rule_scores_again(synced: Synced) -> None:
    assert analysis.analyze(synced.settings, now=ANCHOR).matches["reused"] is False
    # Nothing changed: the pairs are reused.
    assert analysis.analyze(synced.settings, now=ANCHOR).matches["reused"] is True

    c = t.customers.c
    with synced.engine.begin() as conn:
        some = conn.execute(select(c.id).where(c.deleted_at.is_(None)).limit(1)).scalar_one()
        conn.execute(update(t.customers).where(c.id == some).values(first_name="Zebulon"))
    assert analysis.analyze(synced.settings, now=ANCHOR).matches["reused"] is False
    assert analysis.analyze(synced.settings, now=ANCHOR).matches["reused"] is True

    stricter = settings_for(
        synced.settings.lightspeed.base_url or "",
        synced.db_url,
        identity={"suggest_probability": 0.95},
    )
    report = analysis.analyze(stricter, now=ANCHOR)
    assert report.matches["reused"] is False

    # Damaged text under the right digest is not trusted: the pairs are scored again.
    with synced.engine.begin() as conn:
        kept = json.loads(read_value(conn, CACHE_NAME) or "{}")
        garbled = json.dumps({**kept, "auto": [["only", "two"]]})
        conn.execute(
            update(t.service_state)
            .where(t.service_state.c.name == CACHE_NAME)
            .values(value=garbled)
        )
    assert analysis.analyze(stricter, now=ANCHOR).matches["reused"] is False
    assert analysis.analyze(stricter, now=ANCHOR).matches["reused"] is True
