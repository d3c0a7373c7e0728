"""Helpers for the real-time acceptance tests (no tests here): a store whose history
ends before the tier program's 30-day window, and the two convergence checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from greenloop.simulator.generator import GeneratorConfig, generate_store
from greenloop.simulator.model import StoreData
from greenloop.store import tables as t
from tests.simulation import expected_rows, stored_rows


def recent_store(seed: int, customers: int, days: int = 200) -> StoreData:
    """History ending 35 days ago: only the live stream's own sales sit near the edge
    of the 30-day visit window while a test runs, so a tier computed a minute earlier
    by the worker and one computed now by a full analyze cannot differ by the clock."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    config = GeneratorConfig(
        seed=seed, customers=customers, days=days, anchor=today - timedelta(days=35)
    )
    return generate_store(config)


def assert_realtime_facts_match(engine: Engine, served: dict[str, Any]) -> None:
    """Customers, groups and sales (what webhooks and the poll keep current; registers
    and outlets are the daily sync's) hold exactly what the simulator serves."""
    expected, stored = expected_rows(served), stored_rows(engine)
    for kind in ("customer_groups", "customers", "sales"):
        assert set(stored[kind]) == set(expected[kind]), f"{kind}: ids differ"
        for object_id, row in expected[kind].items():
            assert stored[kind][object_id] == row, f"{kind} {object_id} differs"


def tiers_by_profile(engine: Engine) -> dict[str, Any]:
    """Each profile's person's tier."""
    m, p = t.identity_members.c, t.persons.c
    query = (
        select(m.customer_id, p.tier)
        .join(t.persons, p.id == m.person_id)
        .where(m.customer_id.is_not(None))
    )
    with engine.connect() as conn:
        return {r.customer_id: r.tier for r in conn.execute(query)}
