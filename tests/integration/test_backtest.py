"""As-of analysis and the backtest against a synced generated store."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from greenloop.analytics.backtest import NotEnoughHistory, analyze_as_of, backtest
from greenloop.services import analysis, ingest
from greenloop.store import tables as t
from tests.simulation import ANCHOR, running_simulator, settings_for, small_store

STORE = small_store(seed=23, customers=400, days=300)


@pytest.fixture
def settings(engine: Engine, db_url: str):  # type: ignore[no-untyped-def]
    with running_simulator(STORE) as sim:
        settings = settings_for(sim.url, db_url)
        ingest.run_sync(settings)
    return settings


def test_as_of_writes_nothing_and_reads_only_the_past(settings, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    options = analysis.analyze_options(settings)
    early = ANCHOR - timedelta(days=200)
    computed = analyze_as_of(engine, options, early)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.persons)).scalar() == 0
    for outcome in computed.results:
        last = outcome.row["last_purchase"]
        assert last is None or last <= early


def test_backtest_with_too_little_history_names_the_threshold(settings, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    options = analysis.analyze_options(settings)
    with pytest.raises(NotEnoughHistory) as caught:
        backtest(engine, options, ANCHOR - timedelta(days=250))
    line = caught.value.one_line()
    assert "\n" not in line
    assert "needs" in line
    assert caught.value.exit_code != 0
