"""Per-pair agreement levels, field by field: the plain reference comparison.

``compare`` gives one level per field for one pair of records; the column-wise path
(:mod:`.columns`) computes the same levels for many pairs at once and is tested against
it. ``names_agree`` is the first-name rule the exact-key linker uses too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from greenloop.domain.matching.records import MatchRecord, fold, fold_postcode, fold_street
from greenloop.domain.nicknames import NICKNAME_GROUPS, nickname_groups, nickname_of

__all__ = [
    "LOCAL_SIMILAR",
    "NAME_SIMILAR",
    "NOT_DIGIT",
    "TWO_TYPOS_MIN_LOCAL",
    "bare_address",
    "compare",
    "email_comparer",
    "local_part",
    "made_of_names",
    "names_agree",
    "new_surname",
    "phone_level",
]

# Jaro-Winkler 0.92 accepts micheal/michael and catherine/cathrine, not smith/smyth (0.89):
# surnames that close are often different families, and the other fields decide.
NAME_SIMILAR = 0.92
# Email local parts are longer and more distinctive than names; 0.9 accepts
# "annasmith" / "anna.smith80" yet not "anna" / "hannah".
LOCAL_SIMILAR = 0.9
# Two edits in a short address ("jo@x.com" / "al@x.com") are two different people, so
# the second edit counts only when the shorter local part is at least this long.
TWO_TYPOS_MIN_LOCAL = 6


def _first_level(a: str, b: str) -> int:
    """First-name level on folded names: 5 same, 4 nickname, 3 similar, 2 initial, 1 no."""
    if not a or not b:
        return 0
    if a == b:
        return 5
    if nickname_of(a, b):
        return 4
    if JaroWinkler.normalized_similarity(a, b) >= NAME_SIMILAR:
        return 3
    if (len(a) == 1 or len(b) == 1) and a[0] == b[0]:
        return 2
    return 1


def names_agree(first_a: str, first_b: str) -> bool:
    """Could these first names be one person? Empty counts as yes (no evidence).

    The exact-key linker asks this before joining two profiles through a shared phone or
    email: "Anna" and "Bob" on one phone number is a household, two people.
    """
    return _first_level(fold(first_a), fold(first_b)) != 1


def _last_level(a: str, b: str) -> int:
    if not a or not b:
        return 0
    if a == b:
        return 3
    return 2 if JaroWinkler.normalized_similarity(a, b) >= NAME_SIMILAR else 1


def local_part(email: str) -> str:
    return email.rpartition("@")[0]


_NOT_LETTER = re.compile(r"[^a-z]")
NOT_DIGIT = re.compile(r"[^0-9]")
_SEPARATOR = re.compile(r"[._+-]")


def bare_address(email: str) -> str:
    """The address without the separators in its local part ("emerylowe@example.org").

    Two name-shaped addresses that differ only there ("emery.lowe" / "emery_lowe") are
    two people picking the same name at one provider, not one person's typo: a mail
    provider refuses an address taken, so a namesake writes it another way.
    """
    local, _, domain = email.rpartition("@")
    return f"{_SEPARATOR.sub('', local)}@{domain}"


def made_of_names(local: str, first: str, last: str) -> bool:
    """Is this local part just its owner's folded names (plus digits and separators)?

    "anna.smith", "asmith82", "smith_anna", "bill.jones" for William Jones (nicknames
    count: people pick the name they go by). Two such addresses agreeing
    repeat what the names already said, and namesakes share them: "anna.smith@yahoo.com"
    is not the same person as "anna.smith@gmail.com" merely because both are Anna Smith.
    """
    letters = _NOT_LETTER.sub("", local)
    last = last.replace(" ", "")
    if not letters or not (first or last):
        return False
    return letters == last or any(
        letters in (given, given + last, last + given, given[:1] + last, given + last[:1])
        or letters == last + given[:1]
        or _with_initial(letters, given, last)
        for given in _given_forms(first)
    )


def _with_initial(letters: str, given: str, last: str) -> bool:
    """Is it the names with one middle letter between them ("grace.h.hughes", "gh.hughes")?

    A middle initial is no evidence of its own: two namesakes' addresses often differ
    by nothing else ("grace.h.hughes" / "grace.hughes").
    """
    return bool(last) and any(
        head
        and len(letters) == len(head) + 1 + len(last)
        and letters.startswith(head)
        and letters.endswith(last)
        for head in (given, given[:1])
    )


@lru_cache(maxsize=65536)
def _given_forms(first: str) -> tuple[str, ...]:
    """A folded first name and its nicknames, without spaces ("bill" for "william")."""
    forms = {first, *(name for group in nickname_groups(first) for name in NICKNAME_GROUPS[group])}
    return tuple(sorted(form.replace(" ", "") for form in forms))


def _email_level(a: str, b: str, named: bool = False, either_named: bool = False) -> int:
    """4 same, 3 one typo apart (or same local part elsewhere), 2 similar local, 1 no.

    ``named``: both local parts are made of their owners' names (``made_of_names``).
    Then only a single typo keeping the same digits and changing a letter counts (level 3:
    "anna.smith@gmial.com"); any other likeness of the local parts, including the same
    local part at another domain, "jsmith" / "jsmith2" and "anna.smith" / "anna_smith",
    is the name agreement again: level 0, no evidence.

    ``either_named``: one of them is. Local parts that are merely alike (level 2) then
    say the names are alike, which the names already said: a namesake's
    "jorge.navarro@gmail.com" resembles another Jorge Navarro's mistyped
    "orgenavarro@example.com" as much as his own would. In a store of 200,000 such
    pairs were a third of the suggestions, nearly all wrong; level 0.
    """
    if a == b:
        return 4
    local_a, local_b = local_part(a), local_part(b)
    edits = DamerauLevenshtein.distance(a, b, score_cutoff=3)
    typo = edits <= 1 or (edits == 2 and min(len(local_a), len(local_b)) >= TWO_TYPOS_MIN_LOCAL)
    if named:
        same_digits = NOT_DIGIT.sub("", local_a) == NOT_DIGIT.sub("", local_b)
        letter_typo = edits <= 1 and same_digits and bare_address(a) != bare_address(b)
        return 3 if letter_typo else 0
    if typo or local_a == local_b:
        return 3
    if JaroWinkler.normalized_similarity(local_a, local_b) >= LOCAL_SIMILAR:
        return 0 if either_named else 2
    return 1


def email_comparer(a: MatchRecord, b: MatchRecord) -> Callable[[str, str], int]:
    first_a, last_a, first_b, last_b = fold(a.first), fold(a.last), fold(b.first), fold(b.last)

    def level(x: str, y: str) -> int:
        named_x = made_of_names(local_part(x), first_a, last_a)
        named_y = made_of_names(local_part(y), first_b, last_b)
        return _email_level(x, y, named_x and named_y, named_x or named_y)

    return level


def phone_level(a: str, b: str) -> int:
    if a == b:
        return 3
    if a[-7:] == b[-7:] or DamerauLevenshtein.distance(a, b, score_cutoff=2) <= 1:
        return 2
    return 1


def _best(
    values_a: Sequence[str], values_b: Sequence[str], level: Callable[[str, str], int]
) -> int:
    return max((level(x, y) for x in values_a for y in values_b), default=0)


def _address_level(street_a: str, post_a: str, street_b: str, post_b: str) -> int:
    if not post_a or not post_b:
        return 0
    if post_a != post_b:
        return 1
    return 3 if street_a and street_a == street_b else 2


def compare(a: MatchRecord, b: MatchRecord) -> tuple[int, ...]:
    """One agreement level per field of ``FIELDS`` (see ``LEVEL_NAMES``).

    Symmetric. Emails and phones take the best level over every pair of values, so a
    second address with the same local part counts even when the first ones differ.
    """
    first = _first_level(fold(a.first), fold(b.first))
    address = _address_level(
        fold_street(a.street),
        fold_postcode(a.postcode),
        fold_street(b.street),
        fold_postcode(b.postcode),
    )
    return (
        first,
        new_surname(first, _last_level(fold(a.last), fold(b.last)), address),
        _best(a.emails, b.emails, email_comparer(a, b)),
        _best(a.phones, b.phones, phone_level),
        address,
        0 if not a.birth_date or not b.birth_date else 2 if a.birth_date == b.birth_date else 1,
    )


def new_surname(first: int, last: int, address: int) -> int:
    """The last-name level, with a new surname at the same address made no evidence (0).

    The same first name (or a nickname) at the same street address under another last
    name is what a marriage looks like in a customer list; scored field by field, the
    different surname would outweigh the address and the name together. A pair helped by
    this is never joined without staff (``analytics.matches``).
    """
    return 0 if last == 1 and first >= 4 and address == 3 else last
