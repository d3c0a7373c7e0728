"""Indexes set aside for a bulk load into an empty table come back, on both databases;
a table with rows keeps its indexes, and a failed load leaves the schema as it was."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, Engine, insert, inspect

from greenloop.services import analysis
from greenloop.store import bulk_indexes
from greenloop.store import tables as t
from greenloop.store.bulk_indexes import indexes_built_after
from tests.integration.test_analytics import STORE, person_rows, synced  # noqa: F401
from tests.simulation import ANCHOR


def _indexes(conn: Connection, table: str) -> set[str]:
    return {str(i["name"]) for i in inspect(conn).get_indexes(table)}


def _history(n: int) -> dict[str, object]:
    return {
        "person_id": f"p{n}",
        "at": ANCHOR,
        "from_tier": None,
        "to_tier": "Seed",
        "change": "new",
        "reason": "earned",
        "reasons": [],
        "run_id": 1,
    }


def test_empty_tables_lose_their_indexes_for_the_load_only(engine: Engine) -> None:
    members = {"ix_identity_members_person_id", "ix_identity_members_customer_id"}
    history = {"ix_tier_history_person_id", "ix_tier_history_at"}
    with engine.begin() as conn:
        conn.execute(insert(t.tier_history), [_history(0)])
    with engine.begin() as conn:
        with indexes_built_after(conn, (t.identity_members, t.tier_history), 10**6):
            assert _indexes(conn, "identity_members") == set()
            assert _indexes(conn, "tier_history") == history  # it has a row: kept
            conn.execute(insert(t.tier_history), [_history(n) for n in range(1, 50)])
        assert _indexes(conn, "identity_members") == members
    with engine.connect() as conn:
        assert _indexes(conn, "identity_members") == members
        assert _indexes(conn, "tier_history") == history

    def failed_load() -> None:
        with engine.begin() as conn, indexes_built_after(conn, (t.identity_members,), 10**6):
            assert _indexes(conn, "identity_members") == set()
            raise RuntimeError("the load failed")

    with pytest.raises(RuntimeError):
        failed_load()
    with engine.connect() as conn:
        assert _indexes(conn, "identity_members") == members

    # A small load: the indexes stay.
    with engine.begin() as conn, indexes_built_after(conn, (t.identity_members,), 10):
        assert _indexes(conn, "identity_members") == members


def test_a_first_analysis_loaded_without_indexes_equals_one_loaded_with_them(
    synced: object,  # noqa: F811
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bulk_indexes, "BULK_LOAD_MIN_ROWS", 0)
    first = analysis.analyze(synced, now=ANCHOR)  # type: ignore[arg-type]
    assert first.persons > 0
    with engine.connect() as conn:
        for table in ("persons", "identity_members", "identity_values", "tier_history"):
            assert _indexes(conn, table) == {str(i.name) for i in t.metadata.tables[table].indexes}
    again = analysis.analyze(synced, now=ANCHOR)  # type: ignore[arg-type]
    assert (again.changed, again.rows_written) == (0, 0)
    assert len(person_rows(engine)) == first.persons


def test_postgresql_plans_for_the_loaded_rows_not_the_empty_table(engine: Engine) -> None:
    """A first analysis fills empty tables at once; the real-time recomputes right after
    it must not be planned for the empty tables PostgreSQL last saw (a whole-table hash
    join made one recompute 99 ms on 200,000 profiles)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite plans by its indexes, without row statistics")
    rows = [
        {"member_key": f"customer:{n}", "person_id": f"p{n}", "assigned_at": ANCHOR}
        for n in range(2000)
    ]
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE identity_members")  # known empty, as after set-up
        with indexes_built_after(conn, (t.identity_members,), bulk_indexes.BULK_LOAD_MIN_ROWS):
            conn.execute(insert(t.identity_members), rows)
    with engine.connect() as conn:
        # Building an index counts the rows (pg_class.reltuples) but gathers no column
        # statistics: without them the planner guessed how many rows a person has.
        distinct = dict(
            conn.exec_driver_sql(
                "SELECT attname, n_distinct FROM pg_stats "
                "WHERE schemaname = current_schema() AND tablename = 'identity_members'"
            ).all()
        )
    assert distinct.get("person_id") == -1  # every person id distinct: one member each
