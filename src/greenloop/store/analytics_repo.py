"""Reading and writing the analytics tables: members, persons, history, snapshots, runs."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from greenloop.domain.identity import Link, Member, Placeholders
from greenloop.domain.replay import Lock
from greenloop.domain.tiers import TierState
from greenloop.store import tables as t
from greenloop.store.bulk import bulk_insert, bulk_upsert

__all__ = [
    "PERSON_COLUMNS",
    "delete_persons",
    "finish_run",
    "load_locks",
    "load_member_keys_elsewhere",
    "load_member_persons",
    "load_person_rows",
    "load_placeholders",
    "load_tier_states",
    "members_sharing",
    "person_scope",
    "record_history",
    "replace_identity",
    "replace_placeholders",
    "start_run",
    "upsert_persons",
    "write_snapshot",
]

# row_hash is written by the analysis itself, not part of a computed row.
PERSON_COLUMNS: tuple[str, ...] = tuple(c.name for c in t.persons.columns if c.name != "row_hash")


def load_member_persons(
    conn: Connection, person_ids: Iterable[str] | None = None
) -> dict[str, str]:
    m = t.identity_members.c
    query = select(m.member_key, m.person_id)
    if person_ids is not None:
        query = query.where(m.person_id.in_(list(person_ids)))
    return {r.member_key: r.person_id for r in conn.execute(query)}


def load_person_rows(
    conn: Connection, person_ids: Iterable[str] | None = None
) -> dict[str, dict[str, Any]]:
    query = select(t.persons)
    if person_ids is not None:
        query = query.where(t.persons.c.id.in_(list(person_ids)))
    return {r.id: dict(r._mapping) for r in conn.execute(query)}


def load_tier_states(rows: Mapping[str, Mapping[str, Any]]) -> dict[str, TierState]:
    return {
        pid: TierState(row["tier"], row["tier_since"], row["review_at"])
        for pid, row in rows.items()
        if row["tier_since"] is not None
    }


def load_locks(conn: Connection, person_ids: Iterable[str] | None = None) -> dict[str, Lock]:
    lk = t.tier_locks.c
    query = select(lk.person_id, lk.tier, lk.created_at, lk.until)
    if person_ids is not None:
        query = query.where(lk.person_id.in_(list(person_ids)))
    return {r.person_id: Lock(r.tier, r.created_at, r.until) for r in conn.execute(query)}


def replace_identity(
    conn: Connection,
    assignments: Mapping[str, str],
    members: Sequence[Member],
    links: Sequence[Link],
    link_person: Mapping[str, str],
    now: datetime,
    raw_emails: Mapping[str, Iterable[str]],
    *,
    scope: Iterable[str] | None = None,
    old_persons: Iterable[str] = (),
) -> None:
    """Write member → person, identity values and links. With ``scope`` (member keys)
    only those members' rows (and the links of their old and new persons) are
    replaced; otherwise the whole identity is."""
    m, v, lk = t.identity_members, t.identity_values, t.identity_links
    if scope is None:
        for table in (m, v, lk):
            conn.execute(delete(table))
    else:
        keys = list(scope)
        persons = set(assignments.values()) | set(old_persons)
        for chunk in _chunks(keys):
            conn.execute(delete(m).where(m.c.member_key.in_(chunk)))
            conn.execute(delete(v).where(v.c.member_key.in_(chunk)))
        for chunk in _chunks(sorted(persons)):
            conn.execute(delete(lk).where(lk.c.person_id.in_(chunk)))
    bulk_insert(
        conn,
        m,
        ("member_key", "person_id", "customer_id", "assigned_at"),
        [
            (
                key,
                pid,
                key.removeprefix("customer:") if key.startswith("customer:") else None,
                now,
            )
            for key, pid in assignments.items()
        ],
    )
    values = {
        (member.key, kind, value)
        for member in members
        for kind, items in (
            ("email", member.emails),
            ("phone", member.phones),
            ("code", (member.code,) if member.code else ()),
        )
        for value in items
    }
    values.update(
        (key, "raw_email", raw)
        for key, raws in raw_emails.items()
        if key in assignments
        for raw in raws
    )
    bulk_insert(conn, v, ("member_key", "kind", "value"), sorted(values))
    bulk_insert(
        conn,
        lk,
        ("person_id", "a", "b", "reason"),
        [(link_person[link.a], link.a, link.b, link.reason) for link in links],
    )


def replace_placeholders(
    conn: Connection, placeholders: Placeholders, counts: Mapping[tuple[str, str], int]
) -> None:
    conn.execute(delete(t.placeholders))
    rows = [
        (kind, value, why, counts.get((kind, value), 0))
        for kind, found in (("email", placeholders.emails), ("phone", placeholders.phones))
        for value, why in found.items()
    ]
    bulk_insert(conn, t.placeholders, ("kind", "value", "reason", "profiles"), rows)


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def upsert_persons(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    bulk_upsert(
        conn,
        t.persons,
        PERSON_COLUMNS,
        [tuple(row[c] for c in PERSON_COLUMNS) for row in rows],
        version_guard=False,
    )


def delete_persons(conn: Connection, person_ids: Iterable[str]) -> None:
    for chunk in _chunks(sorted(person_ids)):
        conn.execute(delete(t.persons).where(t.persons.c.id.in_(chunk)))


def record_history(conn: Connection, entries: Sequence[Mapping[str, Any]], run_id: int) -> None:
    columns = ("person_id", "at", "from_tier", "to_tier", "change", "reason", "reasons", "run_id")
    bulk_insert(
        conn,
        t.tier_history,
        columns,
        [tuple(e.get(c, run_id) for c in columns) for e in entries],
    )


def write_snapshot(conn: Connection, day: str) -> dict[str, int]:
    """Persons per tier now, stored as the snapshot of ``day`` (re-runs replace it)."""
    p = t.persons.c
    counts = {
        (tier or ""): n
        for tier, n in conn.execute(select(p.tier, func.count()).group_by(p.tier)).all()
    }
    conn.execute(delete(t.tier_snapshots).where(t.tier_snapshots.c.day == day))
    bulk_insert(
        conn,
        t.tier_snapshots,
        ("day", "tier", "persons"),
        sorted((day, k, v) for k, v in counts.items()),
    )
    return counts


def start_run(
    conn: Connection, started: datetime, as_of: datetime, scope: str, person_id: str | None
) -> int:
    result = conn.execute(
        insert(t.analyze_runs).values(
            started_at=started,
            as_of=as_of,
            scope=scope,
            person_id=person_id,
            outcome="running",
            persons=0,
            profiles=0,
            changed=0,
            detail={},
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def finish_run(conn: Connection, run_id: int, finished: datetime, **values: Any) -> None:
    conn.execute(
        update(t.analyze_runs)
        .where(t.analyze_runs.c.id == run_id)
        .values(finished_at=finished, outcome="ok", **values)
    )


def load_placeholders(conn: Connection) -> Placeholders:
    found = Placeholders()
    for r in conn.execute(
        select(t.placeholders.c.kind, t.placeholders.c.value, t.placeholders.c.reason)
    ):
        (found.emails if r.kind == "email" else found.phones)[r.value] = r.reason
    return found


def members_sharing(conn: Connection, values: Iterable[tuple[str, str]]) -> set[str]:
    """Member keys holding any of these (kind, value) identity values."""
    v = t.identity_values.c
    out: set[str] = set()
    for kind, value in values:
        out.update(
            r.member_key
            for r in conn.execute(select(v.member_key).where(v.kind == kind, v.value == value))
        )
    return out


def person_scope(
    conn: Connection, person_ids: Iterable[str]
) -> tuple[dict[str, str], set[str], set[str]]:
    """The members of some persons, with their customer ids and raw order emails."""
    members = load_member_persons(conn, person_ids)
    customers = {k.removeprefix("customer:") for k in members if k.startswith("customer:")}
    v = t.identity_values.c
    emails: set[str] = set()
    email_keys = [k for k in members if k.startswith("email:")]
    for chunk in _chunks(email_keys):
        emails.update(
            r.value
            for r in conn.execute(
                select(v.value).where(v.member_key.in_(chunk), v.kind == "raw_email")
            )
        )
    return members, customers, emails


def load_member_keys_elsewhere(
    conn: Connection, keys: Sequence[str], persons: Collection[str]
) -> list[str]:
    """Those of ``keys`` that belong to a person not in ``persons``."""
    m = t.identity_members.c
    out: list[str] = []
    for chunk in _chunks(list(keys)):
        out.extend(
            r.member_key
            for r in conn.execute(select(m.member_key, m.person_id).where(m.member_key.in_(chunk)))
            if r.person_id not in persons
        )
    return out
