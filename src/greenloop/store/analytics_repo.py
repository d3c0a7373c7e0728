"""Reading and writing the analytics tables: members, persons, history, snapshots, runs."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from greenloop.domain.identity import Link, Member, Placeholders
from greenloop.domain.replay import Lock
from greenloop.domain.tiers import TierState
from greenloop.store import tables as t
from greenloop.store.bulk import bulk_insert, bulk_update, bulk_upsert, placeholders
from greenloop.store.purchase_facts import moment_reader, raw_rows
from greenloop.store.types import Money, UtcDateTime

__all__ = [
    "LATE_COLUMNS",
    "PERSON_COLUMNS",
    "Stored",
    "delete_persons",
    "early_digest",
    "early_unchanged",
    "finish_run",
    "late_row",
    "load_links",
    "load_locks",
    "load_member_keys_elsewhere",
    "load_member_persons",
    "load_person_rows",
    "load_person_states",
    "load_placeholders",
    "load_scope",
    "load_tier_states",
    "member_values",
    "members_sharing",
    "person_scope",
    "record_history",
    "record_runs",
    "replace_identity",
    "replace_placeholders",
    "row_hash",
    "start_run",
    "update_late_columns",
    "upsert_persons",
    "write_snapshot",
]

# row_hash is written by the analysis itself, not part of a computed row.
PERSON_COLUMNS: tuple[str, ...] = tuple(c.name for c in t.persons.columns if c.name != "row_hash")


def load_member_persons(
    conn: Connection, person_ids: Iterable[str] | None = None
) -> dict[str, str]:
    if person_ids is None and conn.dialect.name == "sqlite":
        # A full analysis' read of every member: straight from the driver.
        rows = raw_rows(conn, "SELECT member_key, person_id FROM identity_members")
        return {key: pid for key, pid in rows}
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


class Stored(NamedTuple):
    """What an analysis needs of a stored person: the tier state, the digest of the
    written figures, and (for a one-person recompute) the last predictions."""

    tier: str | None
    tier_since: datetime | None
    review_at: datetime | None
    row_hash: str | None
    p_alive: Decimal | None = None
    expected_purchases_90d: Decimal | None = None
    predicted_value_12m: Decimal | None = None


def load_person_states(
    conn: Connection, person_ids: Iterable[str] | None = None, *, predictions: bool = False
) -> dict[str, Stored]:
    if person_ids is None and not predictions and conn.dialect.name == "sqlite":
        return _all_person_states(conn)
    p = t.persons.c
    columns = [p.id, p.tier, p.tier_since, p.review_at, p.row_hash]
    if predictions:
        columns += [p.p_alive, p.expected_purchases_90d, p.predicted_value_12m]
    query = select(*columns)
    if person_ids is not None:
        query = query.where(p.id.in_(list(person_ids)))
    return {row[0]: Stored(*row[1:]) for row in conn.execute(query)}


def _all_person_states(conn: Connection) -> dict[str, Stored]:
    """Every person's :class:`Stored` state, read straight from the driver (SQLite: a full
    analysis reads them all, and SQLAlchemy's rows cost more than the query)."""
    moment = moment_reader(conn.dialect)
    # A tier's start and review fall on the days analyses ran: a few hundred distinct
    # moments among hundreds of thousands of persons, each parsed (and held) once.
    moments: dict[Any, datetime] = {}

    def at(value: Any) -> datetime | None:
        if value is None:
            return None
        found = moments.get(value)
        if found is None:
            found = moments[value] = moment(value)
        return found

    rows = raw_rows(conn, "SELECT id, tier, tier_since, review_at, row_hash FROM persons")
    return {
        pid: Stored(tier, at(since), at(review), row_hash)
        for pid, tier, since, review, row_hash in rows
    }


def load_tier_states(stored: Mapping[str, Stored]) -> dict[str, TierState]:
    return {
        pid: TierState(row.tier, row.tier_since, row.review_at)
        for pid, row in stored.items()
        if row.tier_since is not None
    }


def load_locks(conn: Connection, person_ids: Iterable[str] | None = None) -> dict[str, Lock]:
    lk = t.tier_locks.c
    query = select(lk.person_id, lk.tier, lk.created_at, lk.until)
    if person_ids is not None:
        query = query.where(lk.person_id.in_(list(person_ids)))
    return {r.person_id: Lock(r.tier, r.created_at, r.until) for r in conn.execute(query)}


def member_values(
    members: Sequence[Member],
    assignments: Mapping[str, str],
    raw_emails: Mapping[str, Iterable[str]],
) -> dict[str, set[tuple[str, str]]]:
    """Member key → its (kind, value) identity values."""
    values: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for member in members:
        found = values[member.key]
        found.update(("email", e) for e in member.emails)
        found.update(("phone", p) for p in member.phones)
        if member.code:
            found.add(("code", member.code))
    for key, raws in raw_emails.items():
        if key in assignments:
            values[key].update(("raw_email", raw) for raw in raws)
    return {k: v for k, v in values.items() if v}


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
    replaced; otherwise the whole identity is, writing only what differs from the
    stored one. A member keeps its ``assigned_at`` while it stays with its person."""
    if scope is None:
        _sync_identity(conn, assignments, members, links, link_person, now, raw_emails)
        return
    m, v, lk = t.identity_members, t.identity_values, t.identity_links
    keys = list(scope)
    persons = set(assignments.values()) | set(old_persons)
    for chunk in _chunks(keys):
        conn.execute(delete(m).where(m.c.member_key.in_(chunk)))
        conn.execute(delete(v).where(v.c.member_key.in_(chunk)))
    for chunk in _chunks(sorted(persons)):
        conn.execute(delete(lk).where(lk.c.person_id.in_(chunk)))
    digests = values_digests(members, assignments, raw_emails)
    bulk_insert(conn, m, _MEMBER_COLUMNS, _member_rows(assignments.items(), now, digests))
    values = member_values(members, assignments, raw_emails)
    bulk_insert(
        conn,
        v,
        ("member_key", "kind", "value"),
        sorted((key, kind, value) for key, found in values.items() for kind, value in found),
    )
    bulk_insert(
        conn,
        lk,
        ("person_id", "a", "b", "reason"),
        [(link_person[link.a], link.a, link.b, link.reason) for link in links],
    )


_MEMBER_COLUMNS = ("member_key", "person_id", "customer_id", "assigned_at", "values_digest")


def _member_rows(
    assignments: Iterable[tuple[str, str]], now: datetime, digests: Mapping[str, int]
) -> list[tuple[str, str, str | None, datetime, int | None]]:
    return [
        (
            key,
            pid,
            key.removeprefix("customer:") if key.startswith("customer:") else None,
            now,
            digests.get(key),
        )
        for key, pid in assignments
    ]


def values_digest(member: Member, raws: Iterable[str] | None) -> int:
    """A digest of the rows :func:`member_values` gives ``member`` (``raws``: its raw
    eCom emails, when it has a person), the same in every process: stored beside the
    member, it tells a full analysis which members' values changed without reading and
    hashing every value row (634,000 on 200,000 profiles, most of a day's identity
    write)."""
    emails, phones = member.emails, member.phones
    packed = _pack(
        (
            emails if len(emails) < 2 else sorted(set(emails)),
            phones if len(phones) < 2 else sorted(set(phones)),
            member.code or None,
            sorted(set(raws)) if raws else None,
        )
    )
    return int.from_bytes(hashlib.blake2b(packed, digest_size=8).digest(), "big", signed=True)


def values_digests(
    members: Sequence[Member],
    assignments: Mapping[str, str],
    raw_emails: Mapping[str, Iterable[str]],
) -> dict[str, int]:
    """Member key → :func:`values_digest`."""
    return {
        m.key: values_digest(m, raw_emails.get(m.key) if m.key in assignments else None)
        for m in members
    }


def _sync_identity(
    conn: Connection,
    assignments: Mapping[str, str],
    members: Sequence[Member],
    links: Sequence[Link],
    link_person: Mapping[str, str],
    now: datetime,
    raw_emails: Mapping[str, Iterable[str]],
) -> None:
    """The whole identity, written as its differences from the stored one (most runs
    change a handful of rows out of hundreds of thousands).

    Every table is read in the writing transaction (what a recompute wrote meanwhile
    counts) as plain tuples. Identity values are compared per member through the digest
    stored beside it (:func:`values_digest`), and only the members whose digests differ
    have their value rows read, so an unchanged identity reads no value row at all.
    """
    m, v, lk = t.identity_members, t.identity_values, t.identity_links
    mark = placeholders(conn, 1)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        # Names come from our own schema, never from input.
        cursor.execute(f"SELECT member_key, person_id, values_digest FROM {m.name}")  # noqa: S608
        previous = {key: (pid, digest) for key, pid, digest in cursor.fetchall()}
        gone = [key for key in previous if key not in assignments]
        if gone:
            cursor.executemany(
                f"DELETE FROM {m.name} WHERE member_key = {mark}",  # noqa: S608
                [(key,) for key in gone],
            )
        digests = values_digests(members, assignments, raw_emails)
        moved: list[tuple[str, str]] = []
        redigested: list[tuple[str, int | None]] = []
        for key, pid in assignments.items():
            stored, digest = previous.get(key), digests.get(key)
            if stored is None or stored[0] != pid:
                moved.append((key, pid))
            elif stored[1] != digest:
                redigested.append((key, digest))
        bulk_upsert(
            conn, m, _MEMBER_COLUMNS, _member_rows(moved, now, digests), version_guard=False
        )
        # A member that stays with its person keeps its assigned_at: only the digest.
        bulk_update(conn, m, ("member_key", "values_digest"), redigested)

        differ = {key for key, digest in digests.items() if previous.get(key, _NO_ROW)[1] != digest}
        differ.update(gone)
        added, stale = _values_diff(
            cursor, mark, members, assignments, raw_emails, differ, set(previous)
        )
        del previous
        if stale:
            where = f"member_key = {mark} AND kind = {mark} AND value = {mark}"
            cursor.executemany(f"DELETE FROM {v.name} WHERE {where}", stale)  # noqa: S608
        bulk_insert(conn, v, ("member_key", "kind", "value"), sorted(added))

        # A person's links are shown in the order they were made, so a person whose
        # links changed gets all of them rewritten in that order.
        wanted: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        for link in links:
            wanted[link_person[link.a]].append((link.a, link.b, link.reason))
        cursor.execute(f"SELECT person_id, a, b, reason FROM {lk.name} ORDER BY person_id, id")  # noqa: S608
        unchanged: set[str] = set()
        rewrite: list[str] = []
        for pid, group in groupby(cursor.fetchall(), key=itemgetter(0)):
            if wanted.get(pid) == [(a, b, reason) for _pid, a, b, reason in group]:
                unchanged.add(pid)
            else:
                rewrite.append(pid)
    finally:
        cursor.close()
    for chunk in _chunks(rewrite):
        conn.execute(delete(lk).where(lk.c.person_id.in_(chunk)))
    bulk_insert(
        conn,
        lk,
        ("person_id", "a", "b", "reason"),
        [
            (pid, link.a, link.b, link.reason)
            for link in links
            if (pid := link_person[link.a]) not in unchanged
        ],
    )


Row = tuple[str, str, str]


def _value_rows(
    members: Sequence[Member],
    assignments: Mapping[str, str],
    raw_emails: Mapping[str, Iterable[str]],
) -> set[Row]:
    """:func:`member_values` as (member key, kind, value) rows."""
    rows = {(m.key, "email", e) for m in members for e in m.emails}
    rows.update((m.key, "phone", p) for m in members for p in m.phones)
    rows.update((m.key, "code", m.code) for m in members if m.code)
    rows.update(
        (k, "raw_email", r) for k, raws in raw_emails.items() if k in assignments for r in raws
    )
    return rows


_NO_ROW: tuple[None, None] = (None, None)


def _values_diff(
    cursor: Any,
    mark: str,
    members: Sequence[Member],
    assignments: Mapping[str, str],
    raw_emails: Mapping[str, Iterable[str]],
    differ: Collection[str],
    stored_members: Collection[str],
) -> tuple[list[Row], list[Row]]:
    """(rows to add, rows to delete) of ``identity_values`` among the ``differ``
    members' (those whose digests changed, or that are gone); the stored rows are read
    for those of them that have a member row (``stored_members``)."""
    if not differ:
        return [], []
    wanted = _value_rows(
        [m for m in members if m.key in differ],
        assignments,
        {k: raws for k, raws in raw_emails.items() if k in differ},
    )
    # Names come from our own schema, never from input.
    table = t.identity_values.name
    reread = sorted(k for k in differ if k in stored_members)
    have: set[Row] = set()
    for chunk in _chunks(reread):
        marks = ", ".join([mark] * len(chunk))
        cursor.execute(
            f"SELECT member_key, kind, value FROM {table} WHERE member_key IN ({marks})",  # noqa: S608
            chunk,
        )
        have.update(tuple(row) for row in cursor.fetchall())
    return [row for row in wanted if row not in have], sorted(have - wanted)


_BATCH = 20_000


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


# What a person's digest covers: every written column but the moment of computing, in
# two parts: the columns a full analysis knows only once everyone is computed (the store
# cycle behind risk, the fitted models), and the rest, which can be digested per person
# as it is computed.
LATE_COLUMNS = ("risk", "p_alive", "expected_purchases_90d", "predicted_value_12m")
_HASHED = tuple(c for c in PERSON_COLUMNS if c not in ("computed_at", *LATE_COLUMNS))
_HASHED_MONEY = tuple(c for c in _HASHED if isinstance(t.persons.c[c].type, Money))
_HASHED_TIMES = tuple(c for c in _HASHED if isinstance(t.persons.c[c].type, UtcDateTime))
_HASHED_PLAIN = tuple(c for c in _HASHED if c not in _HASHED_MONEY and c not in _HASHED_TIMES)


def _amount(value: Decimal | None) -> str | None:
    # By value: 12.5 and 12.50 are equal, as comparing with the stored row found them.
    return None if value is None else str(value.normalize()) if value else "0"


_plain = itemgetter(*_HASHED_PLAIN)
_money = itemgetter(*_HASHED_MONEY)
_times = itemgetter(*_HASHED_TIMES)
# MessagePack keeps types apart (True is not 1, "1" is not 1) at a quarter of repr's
# cost; a full analysis digests every person.
_pack = msgspec.msgpack.Encoder().encode


def early_digest(row: Mapping[str, Any]) -> bytes:
    """The digest of a person's columns but :data:`LATE_COLUMNS`."""
    # Moments as instants (a float resolves microseconds until 2106).
    packed = _pack(
        (
            _plain(row),
            [_amount(v) for v in _money(row)],
            [None if m is None else m.timestamp() for m in _times(row)],
        )
    )
    return hashlib.md5(packed, usedforsecurity=False).digest()


def row_hash(row: Mapping[str, Any], early: bytes | None = None) -> str:
    """A digest of a person's written figures: equal digests, equal stored rows.
    ``early``: :func:`early_digest` of the row, when already known.

    Its first half is the early digest's, so two digests that share it differ only in
    :data:`LATE_COLUMNS` (:func:`early_unchanged`): a day's run, in which a day's
    ageing moves most persons' predictions and nothing else of them, then rewrites only those
    columns (:func:`update_late_columns`)."""
    late = repr((row["risk"], *[_amount(row[c]) for c in LATE_COLUMNS if c != "risk"])).encode()
    first = early if early is not None else early_digest(row)
    whole = hashlib.md5(first + late, usedforsecurity=False).hexdigest()
    return first.hex()[:_EARLY_HEX] + whole[_EARLY_HEX:]


# Half of the 32 stored hex digits: 64 bits of each digest.
_EARLY_HEX = 16


def early_unchanged(stored: str | None, early: bytes) -> bool:
    """Whether a stored :func:`row_hash` was taken of a row with this :func:`early_digest`
    (every column but :data:`LATE_COLUMNS` as stored)."""
    return stored is not None and stored[:_EARLY_HEX] == early.hex()[:_EARLY_HEX]


def late_row(person_id: str, computed_at: datetime) -> dict[str, Any]:
    """A person's row reduced to what an analysis may still write of it when its other
    columns are stored unchanged (:func:`update_late_columns`)."""
    return {"id": person_id, **dict.fromkeys(LATE_COLUMNS), "computed_at": computed_at}


_WRITTEN = (*PERSON_COLUMNS, "row_hash")
# A row's values in PERSON_COLUMNS order, taken in C (a first analysis writes 200,000
# rows of 38 columns: a generator over the columns cost a second).
_person_values = itemgetter(*PERSON_COLUMNS)
_late_values = itemgetter("id", *LATE_COLUMNS, "computed_at")
_LATE_WRITTEN = ("id", *LATE_COLUMNS, "computed_at", "row_hash")


def upsert_persons(
    conn: Connection, rows: Sequence[Mapping[str, Any]], hashes: Sequence[str] | None = None
) -> None:
    """Write persons with their digests (:func:`row_hash`, computed here unless given)."""
    digests = hashes if hashes is not None else [row_hash(row) for row in rows]
    for part in _slices(len(rows)):
        bulk_upsert(
            conn,
            t.persons,
            _WRITTEN,
            [(*_person_values(row), h) for row, h in zip(rows[part], digests[part], strict=True)],
            version_guard=False,
        )


# Persons are written a slice at a time: a first analysis writes every person, and all
# of them at once as tuples, then as bound values, held a few hundred megabytes more at
# its peak.
_WRITE_SLICE = 20_000


def _slices(count: int) -> Iterator[slice]:
    size = _WRITE_SLICE
    return (slice(start, start + size) for start in range(0, count, size))


def update_late_columns(
    conn: Connection,
    rows: Sequence[Mapping[str, Any]],
    hashes: Sequence[str],
    stored: Sequence[str],
) -> None:
    """Write only :data:`LATE_COLUMNS` (with the moment of computing and the digest) of
    stored persons whose other columns are unchanged (:func:`early_unchanged`). ``stored``:
    the digests they were compared with; a person rewritten since (a one-person
    recompute) is left as it was rewritten, and the next analysis compares again."""
    for part in _slices(len(rows)):
        bulk_update(
            conn,
            t.persons,
            _LATE_WRITTEN,
            [
                (*_late_values(row), h, was)
                for row, h, was in zip(rows[part], hashes[part], stored[part], strict=True)
            ],
            expected=("row_hash",),
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


def last_model_choice(conn: Connection) -> dict[str, Any] | None:
    """The purchase-model choice the latest finished full analysis used (its JSON)."""
    r = t.analyze_runs.c
    detail = conn.execute(
        select(r.detail).where(r.scope == "all", r.outcome == "ok").order_by(r.id.desc()).limit(1)
    ).scalar_one_or_none()
    model = ((detail or {}).get("predictions") or {}).get("model")
    return model if isinstance(model, dict) else None


def load_placeholders(conn: Connection) -> Placeholders:
    found = Placeholders()
    for r in conn.execute(
        select(t.placeholders.c.kind, t.placeholders.c.value, t.placeholders.c.reason)
    ):
        (found.emails if r.kind == "email" else found.phones)[r.value] = r.reason
    return found


def members_sharing(conn: Connection, values: Iterable[tuple[str, str]]) -> set[str]:
    """Member keys holding any of these (kind, value) identity values (one query)."""
    v = t.identity_values.c
    pairs = sorted(set(values))
    if not pairs:
        return set()
    match = or_(*(and_(v.kind == kind, v.value == value) for kind, value in pairs))
    return set(conn.execute(select(v.member_key).where(match)).scalars())


def load_scope(
    conn: Connection, keys: Collection[str]
) -> tuple[dict[str, str], dict[str, set[tuple[str, str]]]]:
    """The members of the persons holding any of ``keys`` (member → person), with their
    identity values, in one query."""
    m, v = t.identity_members, t.identity_values
    holders = select(m.c.person_id).where(m.c.member_key.in_(sorted(keys)))
    query = (
        select(m.c.member_key, m.c.person_id, v.c.kind, v.c.value)
        .select_from(m.outerjoin(v, v.c.member_key == m.c.member_key))
        .where(m.c.person_id.in_(holders))
    )
    members: dict[str, str] = {}
    values: dict[str, set[tuple[str, str]]] = {}
    for key, pid, kind, value in conn.execute(query):
        members[key] = pid
        if kind is not None:
            values.setdefault(key, set()).add((kind, value))
    return members, values


def load_links(
    conn: Connection, person_ids: Iterable[str]
) -> dict[str, list[tuple[str, str, str]]]:
    """Each person's links (a, b, reason), in the order they were made."""
    lk = t.identity_links.c
    query = (
        select(lk.person_id, lk.a, lk.b, lk.reason)
        .where(lk.person_id.in_(sorted(person_ids)))
        .order_by(lk.person_id, lk.id)
    )
    out: dict[str, list[tuple[str, str, str]]] = {}
    for pid, a, b, reason in conn.execute(query):
        out.setdefault(pid, []).append((a, b, reason))
    return out


def record_runs(conn: Connection, runs: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert finished runs (analyze_runs columns); their ids, in order (one statement)."""
    if not runs:
        return []
    table = t.analyze_runs
    result = conn.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), list(runs)
    )
    return [int(x) for x in result.scalars()]


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
