"""Cell values of an eCom export: money, store-local times, identifiers.

Every parser raises ``BadCell`` (a ``ValueError``) saying what is wrong and how to fix
it; the reader adds the file, line and column. Forms accepted are those listed in the
reference (ECOM_ESERIES_EXPORT.md §7): money as ``1234.56``, ``1,234.56``, ``1.234,56``,
``$1,234.56``, ``1234,56`` and ``(12.00)``; times as ``Jan 5, 2026 08:08 PM``,
``2026-01-05 20:08``, ``1/5/2026 20:08``, ``2026-04-20 9:41 AM`` and ISO 8601.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from zoneinfo import ZoneInfo

__all__ = [
    "BadCell",
    "LocalTime",
    "StoreClock",
    "ValueLimits",
    "looks_scientific",
    "order_number_problem",
    "parse_local_time",
    "parse_money",
    "shown",
    "to_utc",
]


class BadCell(ValueError):
    """A cell's text is not a value of its kind: what is wrong, and how to fix it.

    ``str()`` is ``"message; hint"``, as every parser here has always raised it; the
    parts are kept apart too, because the cell's own text may hold "; ".
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(f"{message}; {hint}" if hint else message)
        self.message = message
        self.hint = hint


_SHOWN_CHARS = 40


def shown(text: str) -> str:
    """A cell's text, quoted, for a message: cut short and with control characters
    escaped, since a hostile cell can be megabytes long or hold NUL bytes that a
    terminal, a log or a PostgreSQL column would choke on."""
    cut = text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS]
    if not cut.isprintable():
        cut = "".join(c if c.isprintable() else repr(c)[1:-1] for c in cut)
    more = f"… ({len(text):,} characters)" if len(text) > _SHOWN_CHARS else ""
    return f"'{cut}{more}'"


@dataclass(frozen=True, slots=True)
class ValueLimits:
    """The values a store can produce (README: What GreenLoop refuses). An order with a
    value outside them is refused by file and line, never stored: one absurd total made a
    customer's lifetime value 10^20, one year-1 date became a first order date.

    ``earliest`` and ``latest`` bound order times in UTC; ``latest`` None is no bound,
    and the importer sets it to the import's time plus ``max_future``.
    """

    max_order_total: Decimal = Decimal("100000")
    max_quantity: Decimal = Decimal("10000")
    earliest: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    max_future: timedelta = timedelta(days=1)
    latest: datetime | None = None


_CURRENCY = re.compile(r"[$€£\s\u00a0]")
_GROUPED_COMMA = re.compile(r"^\d{1,3}(,\d{3})+$")
_GROUPED_DOT = re.compile(r"^\d{1,3}(\.\d{3})+$")
_SCIENTIFIC = re.compile(r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$")


def looks_scientific(text: str) -> bool:
    """``9.4001E+21``: what a spreadsheet makes of a long number (the digits are gone)."""
    if "e" not in text and "E" not in text:
        return False
    return bool(_SCIENTIFIC.match(text.strip()))


_PLAIN = re.compile(r"\d{1,15}(\.\d{1,6})?")
_MONEY_CACHE: dict[str, Decimal | None] = {}


def parse_money(text: str) -> Decimal | None:
    """A money cell as ``Decimal``; ``None`` when empty.

    An export repeats the same few amounts (0.00, prices, totals) on every row, so parsed
    values are cached by their text; a Decimal is immutable, so sharing one is safe.
    """
    cached = _MONEY_CACHE.get(text)
    if cached is not None or (text in _MONEY_CACHE):
        return cached
    if _PLAIN.fullmatch(text):
        value: Decimal | None = Decimal(text)
    else:
        value = _parse_money_slow(text)
    if len(_MONEY_CACHE) > 50_000:
        _MONEY_CACHE.clear()
    _MONEY_CACHE[text] = value
    return value


# Longer than any amount a store writes ("$1,234,567,890.00" is 17): refused before
# Decimal reads it, since a cell can be any size.
_MONEY_CHARS = 40


def _parse_money_slow(text: str) -> Decimal | None:
    raw = text.strip()
    if not raw:
        return None
    if len(raw) > _MONEY_CHARS:
        raise BadCell(f"{shown(raw)} is too long to be an amount", "write it like 1234.56")
    value = _CURRENCY.sub("", raw)
    negative = False
    if value.startswith("(") and value.endswith(")"):
        negative, value = True, value[1:-1]
    if value.startswith("-"):
        negative, value = not negative, value[1:]
    if looks_scientific(value):
        raise BadCell(
            f"{shown(raw)} is in scientific notation (a spreadsheet rewrote it)",
            "re-export the file from the eCom admin",
        )
    if not value[:1].isdigit() and not (value[:1] == "." and value[1:2].isdigit()):
        raise BadCell(f"{shown(raw)} is not an amount", "write it like 1234.56")
    value = _normalise_separators(value, raw)
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise BadCell(f"{shown(raw)} is not an amount", "write it like 1234.56") from None
    if not amount.is_finite():
        raise BadCell(f"{shown(raw)} is not an amount", "write it like 1234.56")
    return -amount if negative else amount


def _normalise_separators(value: str, raw: str) -> str:
    has_comma, has_dot = "," in value, "." in value
    if has_comma and has_dot:
        # The rightmost separator is the decimal one; the other must group by thousands.
        decimal_sep = "," if value.rfind(",") > value.rfind(".") else "."
        group_sep = "." if decimal_sep == "," else ","
        whole, _, fraction = value.rpartition(decimal_sep)
        grouped = _GROUPED_COMMA if group_sep == "," else _GROUPED_DOT
        if not grouped.match(whole) or not fraction.isdigit():
            raise BadCell(
                f"{shown(raw)} mixes separators in an unreadable way", "write it like 1234.56"
            )
        return whole.replace(group_sep, "") + "." + fraction
    if has_comma:
        if value.count(",") == 1 and re.fullmatch(r"\d+,\d{1,2}", value):
            return value.replace(",", ".")  # 1234,56: a decimal comma
        if _GROUPED_COMMA.match(value):
            return value.replace(",", "")  # 1,234 or 1,234,567: thousands
        raise BadCell(f"{shown(raw)} is not an amount", "write it like 1234.56")
    if value.count(".") > 1:
        if _GROUPED_DOT.match(value):
            return value.replace(".", "")  # 1.234.567: European thousands
        raise BadCell(f"{shown(raw)} is not an amount", "write it like 1234.56")
    return value


_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
# Jan 5, 2026 08:08 PM  (the export's own format, §2.3)
_NAMED = re.compile(
    r"^([A-Za-z]{3})[a-z]*\.? (\d{1,2}), (\d{4}),? (\d{1,2}):(\d{2})(?::(\d{2}))? ?([AaPp][Mm])?$"
)
# 2026-01-05 20:08 | 2026-04-20 9:41 AM | 2026-01-05 20:08:00
_ISOISH = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))? ?([AaPp][Mm])?$"
)
# 1/5/2026 20:08 | 1/5/2026 8:08 PM  (Excel re-save, §3)
_SLASHED = re.compile(
    r"^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))? ?([AaPp][Mm])?$"
)


@dataclass(frozen=True, slots=True)
class LocalTime:
    """A wall-clock time as written in the file, or an aware time when it carried an offset."""

    value: datetime


def _clock(hour: int, meridiem: str | None, raw: str) -> int:
    if meridiem is None:
        if not 0 <= hour <= 23:
            raise BadCell(f"{shown(raw)} has hour {hour}")
        return hour
    if not 1 <= hour <= 12:
        raise BadCell(f"{shown(raw)} has hour {hour} with AM/PM")
    return hour % 12 + (12 if meridiem.lower() == "pm" else 0)


def parse_local_time(text: str, *, day_first: bool = False) -> LocalTime | None:
    """A timestamp cell; naive (store-local) unless the text carries an offset."""
    raw = text.strip()
    if not raw:
        return None
    try:
        if len(raw) > _TIME_CHARS:
            raise ValueError("too long")
        if match := _NAMED.match(raw):
            mon, day, year, hour, minute, second, ampm = match.groups()
            month = _MONTHS.get(mon.lower())
            if month is None:
                raise BadCell(f"{shown(raw)} has an unknown month {shown(mon)}")
        elif match := _ISOISH.match(raw):
            year, month_s, day, hour, minute, second, ampm = match.groups()
            month = int(month_s)
        elif match := _SLASHED.match(raw):
            first, second_part, year, hour, minute, second, ampm = match.groups()
            month_s, day = (second_part, first) if day_first else (first, second_part)
            month = int(month_s)
        else:
            return LocalTime(_iso_with_offset(raw))
        return LocalTime(
            datetime(  # noqa: DTZ001 - store-local wall time; to_utc() attaches the zone
                int(year),
                month,
                int(day),
                _clock(int(hour), ampm, raw),
                int(minute),
                int(second or 0),
            )
        )
    except BadCell:
        raise
    except ValueError:
        # Also a year, month or day out of range ('Feb 30', year 0).
        raise BadCell(
            f"{shown(raw)} is not a date and time",
            "expected e.g. 'Jan 5, 2026 08:08 PM' or '2026-01-05 20:08'",
        ) from None


# Longer than any time format above ("2026-01-05T20:08:00.000000+05:30" is 32).
_TIME_CHARS = 48


def _iso_with_offset(raw: str) -> datetime:
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))


AmbiguousPolicy = Literal["earlier", "later"]


def to_utc(
    local: LocalTime, zone: ZoneInfo, *, ambiguous: AmbiguousPolicy = "earlier"
) -> tuple[datetime, str | None]:
    """UTC time for a store-local wall time, and a note when DST made it special.

    Fall-back overlaps (the hour that happens twice) resolve to the ``ambiguous`` choice.
    Spring-forward gaps (a time that never happened on the clock) resolve to the same
    instant a clock would show after the jump, i.e. the wall time read in the offset in
    force before the transition, moved forward by the gap.
    """
    value = local.value
    if value.tzinfo is not None:
        return value.astimezone(UTC), None
    early = value.replace(tzinfo=zone, fold=0)
    late = value.replace(tzinfo=zone, fold=1)
    if early.utcoffset() == late.utcoffset():
        return early.astimezone(UTC), None
    round_trip = early.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if round_trip != value:
        utc = early.astimezone(UTC)
        shown = utc.astimezone(zone).strftime("%H:%M")
        return (
            utc,
            f"{value:%Y-%m-%d %H:%M} does not exist in {zone.key} (DST gap); read as {shown}",
        )
    chosen = early if ambiguous == "earlier" else late
    offset = chosen.utcoffset() or timedelta(0)
    return chosen.astimezone(UTC), (
        f"{value:%Y-%m-%d %H:%M} happens twice in {zone.key} (DST overlap); "
        f"read as the {ambiguous} one (UTC{_fmt_offset(offset)})"
    )


def _fmt_offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


_MISSING: Any = object()
_MINUTES = frozenset(f"{minute:02d}" for minute in range(60))


class StoreClock:
    """Time cells of one export to UTC text, as :func:`to_utc` converts them, fast.

    The text is what ``UtcDateTime`` stores: ISO-8601 UTC with microseconds. Order times
    are nearly all different, so caching by text rarely hits, and parsing plus zone
    conversion cost more than the rest of an order. Two things make it cheap:

    * within an hour without a DST change the zone's offset is one constant, so it is
      looked up once per hour and :func:`to_utc` handles only the transition hours;
    * times within one hour differ only in their minute digits, so once one time of an
      hour was parsed, the others are that hour's UTC text with their own minutes in it.
    """

    def __init__(
        self, zone: ZoneInfo, *, day_first: bool = False, ambiguous: AmbiguousPolicy = "earlier"
    ) -> None:
        self.zone = zone
        self.day_first = day_first
        self.ambiguous = ambiguous
        self._texts: dict[str, tuple[str, str | None]] = {}
        self._hours: dict[str, tuple[str, str]] = {}
        self._offsets: dict[tuple[int, int, int, int], timedelta | None] = {}

    def utc_text(self, text: str) -> tuple[str, str | None]:
        """UTC text of a non-empty, stripped time cell and the DST note, if any.

        Raises :class:`BadCell` as :func:`parse_local_time` does, and for a time that
        has no UTC equivalent (year 1 or 9999 moved across the date line).
        """
        cached = self._texts.get(text)
        if cached is not None:
            return cached
        colon = text.find(":")
        if colon > 0:
            minute = text[colon + 1 : colon + 3]
            template = self._hours.get(text[: colon + 1] + text[colon + 3 :])
            if template is not None and minute in _MINUTES:
                return template[0] + minute + template[1], None
        local = parse_local_time(text, day_first=self.day_first)
        if local is None:
            raise BadCell(f"{shown(text)} is empty")
        try:
            converted = self._convert(local)
        except OverflowError:
            raise BadCell(
                f"{shown(text)} is outside the years a date can have in UTC",
                "fix the date in the export",
            ) from None
        self._learn_hour(text, local.value, converted)
        _remember(self._texts, text, converted)
        return converted

    def _learn_hour(self, text: str, value: datetime, converted: tuple[str, str | None]) -> None:
        """Keep ``text``'s hour as a template when every minute of it converts alike: a
        wall time (the three wall-time formats put the minute right after the first
        colon), in an hour without a DST change, in a zone whose offset is whole hours
        (so the UTC text shows the same minute digits as the local one)."""
        utc, note = converted
        colon = text.find(":")
        if note or value.tzinfo is not None or colon < 0:
            return
        offset = self._offsets.get((value.year, value.month, value.day, value.hour))
        if offset is None or offset.seconds % 3600:
            return
        if text[colon + 1 : colon + 3] != f"{value.minute:02d}":
            return
        at = utc.index(":") + 1  # the minute digits of the UTC text
        _remember(self._hours, text[: colon + 1] + text[colon + 3 :], (utc[:at], utc[at + 2 :]))

    def _convert(self, local: LocalTime) -> tuple[str, str | None]:
        value = local.value
        if value.tzinfo is None:
            key = (value.year, value.month, value.day, value.hour)
            offset = self._offsets.get(key, _MISSING)
            if offset is _MISSING:
                offset = self._hour_offset(value)
                _remember(self._offsets, key, offset)
            if offset is not None:
                return (value - offset).isoformat(timespec="microseconds") + "+00:00", None
        utc, note = to_utc(local, self.zone, ambiguous=self.ambiguous)
        return utc.isoformat(timespec="microseconds"), note

    def _hour_offset(self, value: datetime) -> timedelta | None:
        """The zone's offset throughout ``value``'s hour, or None when it changes in it
        (an offset change shows as a different offset at one end, or as a gap or
        overlap, where the two folds disagree, at the other)."""
        start = value.replace(minute=0, second=0, microsecond=0)
        offsets = {
            moment.replace(tzinfo=self.zone, fold=fold).utcoffset()
            for moment in (start, start + timedelta(minutes=59, seconds=59))
            for fold in (0, 1)
        }
        return offsets.pop() if len(offsets) == 1 else None


_CACHE_LIMIT = 20_000


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    """Add to a cache that starts over when full, so memory stays flat on any file."""
    if len(cache) > _CACHE_LIMIT:
        cache.clear()
    cache[key] = value


# An order number as the export writes it: digits on old stores, or five random
# characters with an optional prefix or suffix set in the admin (reference §2.2).
_ORDER_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._#/-]{0,63}")
# What a spreadsheet makes of a numeric order number: 9.0007E+5, 900070.0.
_NUMBER_REWRITTEN = re.compile(r"[+-]?\d*\.\d+(?:[eE][+-]?\d+)?|[+-]?\d+[eE][+-]\d+")


def order_number_problem(number: str) -> tuple[str, str] | None:
    """Why a (non-empty, stripped) order number cannot be the export's, if it cannot.

    The order number is the join key with the X-Series sale (its ``source_id``): one in
    any other form can never find its twin, and would be counted twice.
    """
    if _NUMBER_REWRITTEN.fullmatch(number):
        return (
            f"{shown(number)} is a number a spreadsheet rewrote, not the order number",
            "re-export the file from the eCom admin (order numbers are whole numbers "
            "or letters and digits)",
        )
    if not _ORDER_NUMBER.fullmatch(number):
        return (
            f"{shown(number)} is not an order number as the export writes it",
            "order numbers are digits, or letters and digits with - _ # / . between them, "
            "at most 64 characters",
        )
    return None
