"""The ``person_inputs`` cache: each person's fingerprint and the span their row holds.

An entry is packed with ``marshal`` (bytes, integers, text: what it holds), moments as
integer microseconds since 1970 UTC (:func:`micros`). A value packed by another Python
version does not load; it reads as absent, and the person is computed."""

from __future__ import annotations

import marshal
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Connection, delete, select

from greenloop.store import tables as t
from greenloop.store.bulk import bulk_upsert

__all__ = ["Carried", "delete_inputs", "load_carried", "micros", "save_inputs", "unpack"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """``moment`` as whole microseconds since 1970 UTC (exact, unlike a float)."""
    return (moment - _EPOCH) // _MICRO


class Carried(NamedTuple):
    """A person as the last analysis that computed them left them: the fingerprint of
    the inputs, the row's early digest (``analytics_repo.early_digest``), the span the
    row holds, what the risk rule reads of the row, and the purchase summary the
    predictions read."""

    inputs: bytes
    early: bytes
    valid_from: int  # micros
    stable_until: int | None
    last_purchase: int | None
    visits: int
    average_cycle_days: str | None  # Decimal text
    # The prediction summary's purchase days (ordinals) and repeat value (Decimal text);
    # None: no summary (no purchase, or predictions off).
    summary_days: tuple[int, ...] | None
    repeat_value: str | None


_WRITE_SLICE = 20_000


def load_carried(conn: Connection) -> dict[str, bytes]:
    """Every person's packed entry (:func:`unpack` reads one)."""
    c = t.person_inputs.c
    return {pid: packed for pid, packed in conn.execute(select(c.person_id, c.carried))}


def unpack(packed: bytes) -> Carried | None:
    try:
        return Carried(*marshal.loads(packed))  # noqa: S302 (written by save_inputs)
    except (ValueError, EOFError, TypeError):
        return None


def save_inputs(conn: Connection, entries: Mapping[str, Carried]) -> None:
    """Insert or replace these persons' entries."""
    rows = [(pid, marshal.dumps(tuple(entry))) for pid, entry in entries.items()]
    for start in range(0, len(rows), _WRITE_SLICE):
        bulk_upsert(
            conn,
            t.person_inputs,
            ("person_id", "carried"),
            rows[start : start + _WRITE_SLICE],
            version_guard=False,
        )


def delete_inputs(conn: Connection, person_ids: Iterable[str]) -> None:
    ids = sorted(person_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        conn.execute(delete(t.person_inputs).where(t.person_inputs.c.person_id.in_(chunk)))
