"""The overview's first line says what ran last, of any kind, and when (issue 20): after
the demo's steps (sync, import, weekly analyses, push) it names them instead of "Last
daily run: never"; a daily job is named as such; a lone analyze as itself. On SQLite
and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert

from greenloop.store import tables as t
from greenloop.store.engine import make_engine, migrate
from greenloop.web.dashboard import queries
from greenloop.web.dashboard.routes import last_run_text

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    made = make_engine(db_url)
    migrate(made)
    yield made
    made.dispose()


def _at(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def _sync(engine: Engine, start: float, end: float, changed: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(t.sync_runs).values(
                started_at=_at(start),
                finished_at=_at(end),
                full=False,
                outcome="ok",
                requests=3,
                detail={"changed": changed},
            )
        )


def _analyze(engine: Engine, start: float, end: float, changed: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(t.analyze_runs).values(
                started_at=_at(start),
                finished_at=_at(end),
                as_of=_at(start),
                scope="all",
                outcome="ok",
                persons=1900,
                profiles=2000,
                changed=changed,
                detail={},
            )
        )


def test_the_demos_steps_are_one_go_named_with_what_they_did(engine: Engine) -> None:
    _sync(engine, 200, 199, 5)  # an earlier run, far apart: not part of the go
    _sync(engine, 9, 8, 2000)
    with engine.begin() as conn:
        conn.execute(
            insert(t.ecom_imports).values(
                file="orders.csv",
                sha256="0" * 64,
                imported_at=_at(7.5),
                rows=900,
                orders_new=400,
                orders_updated=0,
                orders_unchanged=0,
                line_items=900,
                rejected=[],
                warnings=[],
            )
        )
    for week in range(3):
        _analyze(engine, 7 - week, 6.5 - week, 10)
    with engine.begin() as conn:
        conn.execute(
            insert(t.push_runs).values(
                started_at=_at(3),
                finished_at=_at(2.5),
                dry_run=False,
                outcome="ok",
                planned=120,
                moved=120,
                failed=0,
                requests=4,
                detail={},
            )
        )
    with engine.connect() as conn:
        runs = queries.last_runs(conn)
    assert runs is not None
    assert [(s["kind"], s["runs"]) for s in runs["steps"]] == [
        ("sync", 1),
        ("import", 1),
        ("analyze", 3),
        ("push", 1),
    ]
    assert runs["figures"] == {
        "changed": 2000,
        "orders": 400,
        "persons": 1900,
        "tier_changes": 30,
        "moved": 120,
    }
    assert not runs["daily"]
    text = last_run_text(runs, 2000, demo=True, now=NOW)
    assert text is not None
    assert text["name"] == "demo pipeline"
    assert text["steps"] == "sync, import, analyze ×3, push"
    assert text["ago"] == "2 min ago"
    assert text["figures"].startswith("2,000 customers, 1,900 persons analysed, 30 tier changes")
    assert last_run_text(runs, 2000, demo=False, now=NOW)["name"] == "runs"  # type: ignore[index]


def test_a_lone_analyze_and_a_daily_job_are_named_as_such(engine: Engine) -> None:
    with engine.connect() as conn:
        assert queries.last_runs(conn) is None
    _analyze(engine, 90, 89, 4)
    with engine.connect() as conn:
        text = last_run_text(queries.last_runs(conn), 10, demo=False, now=NOW)
    assert text is not None
    assert (text["name"], text["ago"]) == ("analyze", "1 h ago")
    with engine.begin() as conn:
        conn.execute(
            insert(t.job_runs).values(
                job="daily", started_at=_at(30), finished_at=_at(20), outcome="ok", steps=[]
            )
        )
    _sync(engine, 29, 28, 7)
    _analyze(engine, 27, 21, 3)
    with engine.connect() as conn:
        runs = queries.last_runs(conn)
    text = last_run_text(runs, 10, demo=True, now=NOW)
    assert text is not None
    assert text["name"] == "daily job"
    assert text["steps"] == "daily job"  # its sync and analyze ran inside it
    assert text["ago"] == "20 min ago"
    assert runs is not None
    assert runs["figures"]["tier_changes"] == 3
