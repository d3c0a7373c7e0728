"""Evidence: what agrees and what does not about a pair, in a shop assistant's words."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rapidfuzz.distance import DamerauLevenshtein

from greenloop.domain.matching.fields import ADDRESS, EMAIL, FIRST, LAST, PHONE
from greenloop.domain.matching.levels import email_comparer, phone_level
from greenloop.domain.matching.records import MatchRecord, fold
from greenloop.domain.matching.weights import DEFAULT_WEIGHTS, Weights

__all__ = ["evidence", "new_last_name"]


def new_last_name(a: MatchRecord, b: MatchRecord) -> bool:
    """Both records have a last name and they differ (level 0 then means a new surname)."""
    last_a, last_b = fold(a.last), fold(b.last)
    return bool(last_a and last_b) and last_a != last_b


def _typed(text: str) -> str:
    return " ".join(text.split())


def _pick(
    values_a: Sequence[str], values_b: Sequence[str], level: Callable[[str, str], int], wanted: int
) -> tuple[str, str]:
    """The first pair of values showing the wanted level (for the words)."""
    for x in values_a:
        for y in values_b:
            if level(x, y) == wanted:
                return x, y
    return (values_a[0] if values_a else "", values_b[0] if values_b else "")


def _field_words(a: MatchRecord, b: MatchRecord, field: int, level: int) -> str:
    if field == FIRST:
        x, y = _typed(a.first), _typed(b.first)
        return {
            5: f"same first name {x}",
            4: f"first names {x} / {y} (nickname)",
            3: f"first names {x} / {y} (similar spelling)",
            2: f"first name initial {x} / {y}",
        }.get(level, f"different first names {x} / {y}")
    if field == LAST:
        x, y = _typed(a.last), _typed(b.last)
        return {
            3: f"same last name {x}",
            2: f"last names {x} / {y} (similar spelling)",
        }.get(level, f"different last names {x} / {y}")
    if field == EMAIL:
        x, y = _pick(a.emails, b.emails, email_comparer(a, b), level)
        if level == 4:
            return f"same email {x}"
        if level == 3:
            edits = DamerauLevenshtein.distance(x, y)
            if edits == 1:
                return f"emails differ by one letter: {x} / {y}"
            if edits == 2:
                return f"emails differ by two letters: {x} / {y}"
            return f"same email name at another domain: {x} / {y}"
        if level == 2:
            return f"similar email names: {x} / {y}"
        return f"different emails {x} / {y}"
    if field == PHONE:
        x, y = _pick(a.phones, b.phones, phone_level, level)
        if level == 3:
            return f"same phone {x}"
        if level == 2:
            if x[-7:] == y[-7:]:
                return f"phones end in the same 7 digits: {x} / {y}"
            return f"phones differ by one digit: {x} / {y}"
        return f"different phones {x} / {y}"
    if field == ADDRESS:
        place_a = " ".join(p for p in (_typed(a.street), _typed(a.postcode)) if p)
        place_b = " ".join(p for p in (_typed(b.street), _typed(b.postcode)) if p)
        if level == 3:
            return f"same address {place_a}"
        if level == 2:
            postcode, street_a, street_b = _typed(a.postcode), _typed(a.street), _typed(b.street)
            if street_a and street_b:
                return f"same postcode {postcode}, different streets: {street_a} / {street_b}"
            return f"same postcode {postcode}"
        return f"different addresses {place_a} / {place_b}"
    if level == 2:
        return f"same birth date {a.birth_date}"
    return f"different birth dates {a.birth_date} / {b.birth_date}"


def evidence(
    a: MatchRecord, b: MatchRecord, levels: tuple[int, ...], *, weights: Weights | None = None
) -> tuple[str, ...]:
    """What agrees and what does not, in words a shop assistant understands.

    Agreements first, then disagreements, each strongest first by ``weights`` (the
    defaults when none are given). Both sides are shown where they differ: a reviewer
    deciding "same person?" needs the reasons against as much as the reasons for.
    A same first and last name read as one line, "same name Anna Smith". Emails that
    only spell the names (``made_of_names``) are shown last, as no evidence.
    """
    table = (weights or DEFAULT_WEIGHTS).log2_table()
    items: list[tuple[float, str]] = []
    fields = [f for f, level in enumerate(levels) if level > 0]
    if levels[FIRST] == 5 and levels[LAST] == 3:
        name = f"{_typed(a.first)} {_typed(a.last)}"
        items.append((table[FIRST, 5] + table[LAST, 3], f"same name {name}"))
        fields = [f for f in fields if f not in (FIRST, LAST)]
    for f in fields:
        items.append((float(table[f, levels[f]]), _field_words(a, b, f, levels[f])))
    if levels[LAST] == 0 and new_last_name(a, b):
        shown = f"{_typed(a.last)} / {_typed(b.last)}"
        items.append((0.0, f"last names {shown}: a new surname? (same first name and address)"))
    if levels[EMAIL] == 0 and a.emails and b.emails:
        shown = f"{a.emails[0]} / {b.emails[0]}"
        items.append((0.0, f"emails only spell the names, no evidence: {shown}"))
    agree = sorted((item for item in items if item[0] > 0), key=lambda item: -item[0])
    against = sorted((item for item in items if item[0] <= 0), key=lambda item: item[0])
    return tuple(words for _, words in agree + against)
