"""``bulk_update`` sets only the given columns of stored rows, by ``executemany`` on
SQLite and for small batches, by ``COPY`` into a temporary table on PostgreSQL: the
same rows in the end either way."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from greenloop.store import bulk
from greenloop.store import tables as t

COLUMNS = ("kind", "value", "reason", "profiles")


def _stored(engine: Engine) -> dict[tuple[str, str], tuple[str, int]]:
    p = t.placeholders.c
    with engine.connect() as conn:
        rows = conn.execute(select(p.kind, p.value, p.reason, p.profiles)).all()
    return {(kind, value): (reason, profiles) for kind, value, reason, profiles in rows}


@pytest.mark.parametrize("count", [3, bulk.COPY_MIN_ROWS + 10])
def test_only_the_given_columns_of_stored_rows_change(engine: Engine, count: int) -> None:
    rows = [("email", f"x{n}@example.com", f"shared by {n}", n) for n in range(count)]
    rows += [("phone", f"+1615555{n:04d}", "a shop number", 1) for n in range(count)]
    with engine.begin() as conn:
        bulk.bulk_insert(conn, t.placeholders, COLUMNS, rows)
    # The composite key in any order among the columns; a key that is not stored
    # changes nothing and is not inserted.
    updates = [(n * 10, "email", f"x{n}@example.com") for n in range(count)]
    updates.append((99, "email", "nobody@example.com"))
    copied = bulk.copy_counts().get("placeholders", 0)
    with engine.begin() as conn:
        bulk.bulk_update(conn, t.placeholders, ("profiles", "kind", "value"), updates)
    by_copy = engine.dialect.name == "postgresql" and len(updates) >= bulk.COPY_MIN_ROWS
    assert bulk.copy_counts().get("placeholders", 0) - copied == (len(updates) if by_copy else 0)
    expected = {(kind, value): (reason, profiles) for kind, value, reason, profiles in rows}
    for profiles, kind, value in updates[:-1]:
        expected[(kind, value)] = (expected[(kind, value)][0], profiles)
    assert _stored(engine) == expected


@pytest.mark.parametrize("count", [3, bulk.COPY_MIN_ROWS + 10])
def test_a_row_changed_since_it_was_read_is_left_alone(engine: Engine, count: int) -> None:
    """``expected``: a row is updated only while it still holds the values it was read
    with (another writer's change wins until the next comparison)."""
    rows = [("email", f"x{n}@example.com", f"read {n}", n) for n in range(count)]
    with engine.begin() as conn:
        bulk.bulk_insert(conn, t.placeholders, COLUMNS, rows)
    changed = f"x{count // 2}@example.com"
    p = t.placeholders.c
    with engine.begin() as conn:  # another writer, after the rows were read
        conn.execute(t.placeholders.update().where(p.value == changed).values(reason="theirs"))
    updates = [("email", f"x{n}@example.com", 1000 + n, f"read {n}") for n in range(count)]
    with engine.begin() as conn:
        bulk.bulk_update(
            conn, t.placeholders, ("kind", "value", "profiles"), updates, expected=("reason",)
        )
    stored = _stored(engine)
    for n in range(count):
        value = f"x{n}@example.com"
        want = ("theirs", n) if value == changed else (f"read {n}", 1000 + n)
        assert stored["email", value] == want


def test_money_and_times_are_bound_as_their_columns_bind_them(engine: Engine) -> None:
    """The columns' own bind processors run (``Money`` as exact text on SQLite)."""
    from datetime import UTC, datetime

    p = t.persons.c
    person = {c.name: None for c in t.persons.columns}
    person.update(
        id="p_1",
        profiles=1,
        profile_ids=["c1"],
        loyalty_enrolled=False,
        lifetime_value=Decimal("34.725"),
        purchases=1,
        visits=1,
        reasons=["why"],
        to_next=[],
        keep=[],
        drop_at_review=False,
        computed_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    for c in t.persons.columns:
        if person[c.name] is None and not c.nullable:
            person[c.name] = Decimal(0) if "value" in c.name else 0
    names = tuple(person)
    with engine.begin() as conn:
        bulk.bulk_insert(conn, t.persons, names, [tuple(person.values())])
    moment = datetime(2026, 2, 3, 4, 5, 6, 789, tzinfo=UTC)
    with engine.begin() as conn:
        bulk.bulk_update(
            conn,
            t.persons,
            ("id", "p_alive", "computed_at"),
            [("p_1", Decimal("0.1234"), moment)],
        )
    with engine.connect() as conn:
        row = conn.execute(select(t.persons).where(p.id == "p_1")).one()
    assert (row.p_alive, row.computed_at, row.lifetime_value) == (
        Decimal("0.1234"),
        moment,
        Decimal("34.725"),
    )
    assert row.reasons == ["why"]
