"""Per-person results sent from the forked analysis process to the parent, compactly.

Pickling the results as objects cost the parent more to load (about 7 s for 100,000
persons) than computing them had saved. Here every value travels as what ``marshal``
carries natively: money as its ``Decimal`` text, moments and days as ISO-8601 text,
rows as lists in :data:`PERSON_COLUMNS` order (a late row as its id and moment). Both
ends are the same interpreter (a fork), so the format always matches; the text forms
round-trip exactly.
"""

from __future__ import annotations

import marshal
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from greenloop.analytics.compute import HistoryEntry
from greenloop.analytics.outcome import Outcome
from greenloop.store import tables as t
from greenloop.store.analytics_repo import PERSON_COLUMNS, late_row
from greenloop.store.person_inputs import Carried
from greenloop.store.types import Money, UtcDateTime

if TYPE_CHECKING:
    from greenloop.domain.predictions import CustomerSummary

__all__ = ["pack", "unpack"]

_MONEY = frozenset(c for c in PERSON_COLUMNS if isinstance(t.persons.c[c].type, Money))
_TIMES = frozenset(c for c in PERSON_COLUMNS if isinstance(t.persons.c[c].type, UtcDateTime))
_KINDS = tuple("m" if c in _MONEY else "t" if c in _TIMES else "" for c in PERSON_COLUMNS)


_values_of = itemgetter(*PERSON_COLUMNS)
# Only these positions need a conversion; the rest marshal as they are.
_MONEY_AT = tuple(i for i, kind in enumerate(_KINDS) if kind == "m")
_TIME_AT = tuple(i for i, kind in enumerate(_KINDS) if kind == "t")


def _text(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _row_text(row: dict[str, Any]) -> list[Any] | tuple[str, str]:
    if len(row) < len(PERSON_COLUMNS):
        # A late row (analytics_repo.late_row): its id and moment of computing.
        return (row["id"], row["computed_at"].isoformat())
    values = list(_values_of(row))
    for i in _MONEY_AT:
        if values[i] is not None:
            values[i] = str(values[i])
    for i in _TIME_AT:
        if values[i] is not None:
            values[i] = values[i].isoformat()
    return values


def pack(outcomes: Sequence[Outcome], summaries: dict[str, CustomerSummary]) -> bytes:
    rows = []
    for o in outcomes:
        h = o.history
        history = None
        if h is not None:
            at = h.at.isoformat()
            history = (h.person_id, at, h.from_tier, h.to_tier, h.change, h.reason, h.reasons)
        rows.append(
            (
                _row_text(o.row),
                o.digest,
                history,
                o.days_since_last,
                o.visits,
                _text(o.average_cycle_days),
                None if o.fingerprint is None else tuple(o.fingerprint),
                o.carried,
            )
        )
    packed_summaries = [
        (
            pid,
            s.frequency,
            s.recency,
            s.T,
            str(s.repeat_value),
            s.first_purchase.isoformat(),
            s.last_purchase.isoformat(),
            s.observation_end.isoformat(),
            # The backtest and the seasonal index read every person's purchase days.
            [d.toordinal() for d in s.days],
        )
        for pid, s in summaries.items()
    ]
    return marshal.dumps((rows, packed_summaries))


def unpack(data: bytes) -> tuple[list[Outcome], dict[str, CustomerSummary]]:
    from greenloop.domain.predictions import CustomerSummary

    rows, packed_summaries = marshal.loads(data)  # noqa: S302 (our own forked child)
    parse_time, columns = datetime.fromisoformat, PERSON_COLUMNS
    outcomes = []
    for values, digest, history, days_since_last, visits, cycle, fingerprint, carried in rows:
        if type(values) is tuple:
            row = late_row(values[0], parse_time(values[1]))
        else:
            for i in _MONEY_AT:
                if values[i] is not None:
                    values[i] = Decimal(values[i])
            for i in _TIME_AT:
                if values[i] is not None:
                    values[i] = parse_time(values[i])
            row = dict(zip(columns, values, strict=True))
        entry = None
        if history is not None:
            pid, at, old, new, change, reason, reasons = history
            entry = HistoryEntry(pid, parse_time(at), old, new, change, reason, reasons)
        outcomes.append(
            Outcome(
                row,
                digest,
                entry,
                days_since_last,
                visits,
                None if cycle is None else Decimal(cycle),
                None if fingerprint is None else Carried(*fingerprint),
                carried,
            )
        )
    summaries = {
        pid: CustomerSummary(
            frequency,
            recency,
            weeks,
            Decimal(value),
            date.fromisoformat(first),
            date.fromisoformat(last),
            date.fromisoformat(end),
            tuple(map(date.fromordinal, days)),
        )
        for pid, frequency, recency, weeks, value, first, last, end, days in packed_summaries
    }
    return outcomes, summaries
