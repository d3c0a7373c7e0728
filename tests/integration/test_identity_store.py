"""The full analysis writes the identity as its differences from the stored one; the
tables must end exactly as a fresh full write leaves them (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select

from greenloop.domain.identity import Link, Member
from greenloop.store import analytics_repo as repo
from greenloop.store import bulk
from greenloop.store import tables as t

FIRST = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
SECOND = datetime(2026, 3, 2, 12, 0, 0, 654321, tzinfo=UTC)

State = tuple[dict[str, str], list[Member], list[Link], dict[str, list[str]]]


def _state(changed: bool) -> State:
    """Forty profiles and a few eCom buyers in persons of up to three; ``changed`` moves
    members between persons, drops and adds some, changes values, links and raw emails."""
    members: list[Member] = []
    assignments: dict[str, str] = {}
    for n in range(40):
        if changed and n in (3, 4):
            continue  # profiles gone
        person = f"P{n // 3}"
        if changed and n in (7, 10, 11):
            person = "P0"  # moved into another person
        if changed and n == 20:
            person = "P99"  # split off into a new person
        email = f"m{n}@example.com" if n % 4 else None
        if changed and n == 12:
            email = "renamed@example.com"
        phones = (f"+1555000{n:04d}",) if n % 3 == 0 else ()
        if changed and n == 15:
            phones = ()
        if changed and n == 16:
            phones = ("+15559999999", "+15558888888")
        code = f"C{n}" if n % 5 == 0 and not (changed and n == 25) else None
        key = f"customer:{n}"
        members.append(Member(key, (email,) if email else (), phones, code))
        assignments[key] = person
    buyers = ["a@x.com", "b@x.com"] + (["new@x.com"] if changed else ["gone@x.com"])
    for i, address in enumerate(buyers):
        key = f"email:{address}"
        members.append(Member(key, (address,)))
        assignments[key] = f"P{i}"
    raw = {
        "email:a@x.com": ["A@X.com", "a@x.com "] + (["a+tag@x.com"] if changed else []),
        "email:b@x.com": ["B@x.com"] if changed else ["b@X.COM"],
        "email:gone@x.com": ["Gone@x.com"],
        "email:new@x.com": ["NEW@x.com"],
    }
    links = []
    for person in sorted(set(assignments.values())):
        keys = [k for k, p in assignments.items() if p == person]
        links.extend(Link(keys[0], b, f"email {b}") for b in keys[1:])
    if changed:
        links.reverse()  # P5's links in another order: all of them rewritten in it
        links.append(Link("customer:0", "customer:1", "manual"))
    return assignments, members, links, raw


def _write(engine: Engine, state: State, now: datetime) -> None:
    assignments, members, links, raw = state
    with engine.begin() as conn:
        repo.replace_identity(conn, assignments, members, links, assignments, now, raw)


def _tables(engine: Engine) -> dict[str, Any]:
    v, lk = t.identity_values.c, t.identity_links.c
    with engine.connect() as conn:
        members = {r.member_key: tuple(r[1:]) for r in conn.execute(select(t.identity_members))}
        values = sorted(tuple(r) for r in conn.execute(select(v.member_key, v.kind, v.value)))
        links: dict[str, list[tuple[str, str, str]]] = {}
        for row in conn.execute(select(lk.person_id, lk.a, lk.b, lk.reason).order_by(lk.id)):
            links.setdefault(row.person_id, []).append((row.a, row.b, row.reason))
    return {"members": members, "values": values, "links": links}


def _clear(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in (t.identity_members, t.identity_values, t.identity_links):
            conn.execute(table.delete())


def _diffed_and_fresh(engine: Engine, state: State) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tables after writing ``state`` over what is stored, then after writing it
    into empty tables."""
    _write(engine, state, SECOND)
    diffed = _tables(engine)
    _clear(engine)
    _write(engine, state, SECOND)
    return diffed, _tables(engine)


def _assigned(tables: Mapping[str, Any], keys: Sequence[str]) -> set[datetime]:
    return {tables["members"][k][2] for k in keys}


@pytest.mark.parametrize("copy_from", [1, 10**9], ids=["copy", "executemany"])
def test_writing_the_differences_ends_as_a_fresh_full_write(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, copy_from: int
) -> None:
    if copy_from != 1 and engine.dialect.name != "postgresql":
        pytest.skip("the same path on SQLite")
    monkeypatch.setattr(bulk, "COPY_MIN_ROWS", copy_from)
    monkeypatch.setattr(repo, "_BATCH", 7)  # stored rows read in many batches
    before, after = _state(False), _state(True)
    _write(engine, before, FIRST)
    _write(engine, before, SECOND)  # nothing changed: nothing rewritten
    assert _assigned(_tables(engine), list(before[0])) == {FIRST}
    diffed, fresh = _diffed_and_fresh(engine, after)

    assert diffed["values"] == fresh["values"]
    assert diffed["links"] == fresh["links"]
    assert diffed["members"].keys() == fresh["members"].keys()
    for key, (person, customer, _at, digest) in fresh["members"].items():
        assert diffed["members"][key][:2] == (person, customer)
        # The values' digest as a fresh write leaves it: the next diff starts right.
        assert digest is not None
        assert diffed["members"][key][3] == digest
    # A member keeps its assigned_at while it stays with its person.
    moved = [k for k, p in after[0].items() if before[0].get(k) != p]
    stayed = [k for k in after[0] if k not in moved]
    assert sorted(moved) == sorted(
        ["customer:7", "customer:10", "customer:11", "customer:20", "email:new@x.com"]
    )
    assert _assigned(diffed, moved) == {SECOND}
    assert _assigned(diffed, stayed) == {FIRST}
    assert fresh["links"]["P0"][-1] == ("customer:0", "customer:1", "manual")
    assert "email:gone@x.com" not in diffed["members"]


def test_members_stored_before_their_digests_existed_are_compared_row_by_row(
    engine: Engine,
) -> None:
    """A store upgraded from before ``values_digest``: every member's digest is NULL,
    so every member's values are compared row by row once, and the digests written."""
    before, after = _state(False), _state(True)
    for state in (before, after):
        _clear(engine)
        _write(engine, before, FIRST)
        with engine.begin() as conn:
            conn.execute(t.identity_members.update().values(values_digest=None))
            # A value row the digests alone would never notice is missing.
            conn.execute(
                t.identity_values.delete().where(t.identity_values.c.member_key == "customer:1")
            )
        diffed, fresh = _diffed_and_fresh(engine, state)
        assert diffed["values"] == fresh["values"]
        assert {k: m[3] for k, m in diffed["members"].items()} == {
            k: m[3] for k, m in fresh["members"].items()
        }
        assert None not in {m[3] for m in diffed["members"].values()}
