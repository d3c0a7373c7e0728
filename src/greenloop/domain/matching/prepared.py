"""Records as integer columns: folded values interned once, so pairs compare as ids.

``Prepared`` turns the records into id columns (names, street, postcode, emails, phones)
plus the per-value facts blocking and comparison need (initials, Soundex codes, nickname
pairs, email local parts and domains, anagram keys, name shares).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from greenloop.domain.matching.fields import FLOOR, FloatArray, IntArray
from greenloop.domain.matching.levels import NOT_DIGIT, bare_address, local_part, made_of_names
from greenloop.domain.matching.records import MatchRecord, fold, fold_postcode, fold_street
from greenloop.domain.nicknames import nickname_groups

__all__ = ["COUNT_BUCKETS", "Prepared", "Vocab"]

# Buckets of characters counted per string (Vocab.character_counts). Sixteen let 78,000
# of 7.2 million email pairs through to rapidfuzz where 64 let 75,000, at half the cost.
COUNT_BUCKETS = 16


class Vocab:
    """Interned strings; id 0 is always "" so "missing" is a single comparison."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {"": 0}
        self._values: list[str] = [""]
        self._objects: npt.NDArray[np.object_] = np.array([""], object)
        self._lengths: IntArray = np.zeros(1, np.int64)
        self._counts: npt.NDArray[np.uint8] = np.zeros((1, COUNT_BUCKETS), np.uint8)

    def id(self, value: str) -> int:
        return self.ids.setdefault(value, len(self.ids))

    @property
    def values(self) -> list[str]:
        if len(self._values) != len(self.ids):
            self._values = list(self.ids)  # dicts keep insertion order: index = id
        return self._values

    def column(self, raw: list[str], transform: Callable[[str], str] | None = None) -> IntArray:
        """Ids of ``transform(value)`` per value, transforming each distinct value once."""
        intern = self.ids.setdefault
        ids = self.ids
        if transform is None:
            memo = {value: intern(value, len(ids)) for value in dict.fromkeys(raw)}
        else:
            memo = {
                value: intern(transform(value), len(ids)) if value else 0
                for value in dict.fromkeys(raw)
            }
        return np.array(list(map(memo.__getitem__, raw)), np.int64)

    def lengths(self) -> IntArray:
        """Length of each string, by id."""
        if len(self._lengths) != len(self.ids):
            self._lengths = np.array([len(v) for v in self.values], np.int64)
        return self._lengths

    def character_counts(self) -> npt.NDArray[np.uint8]:
        """Per string (by id), how many of its characters fall in each of
        :data:`COUNT_BUCKETS` buckets (by code point; at most 255 each): what the cheap
        lower bound on an edit distance reads (``columns._edits``)."""
        if len(self._counts) != len(self.ids):
            values = self.values
            # One code point per character, a lone surrogate included.
            text = "".join(values).encode("utf-32-le", "surrogatepass")
            codes = np.frombuffer(text, np.uint32).astype(np.int64)
            owner = np.repeat(np.arange(len(values), dtype=np.int64), self.lengths())
            flat = np.bincount(
                owner * COUNT_BUCKETS + codes % COUNT_BUCKETS, minlength=len(values) * COUNT_BUCKETS
            )
            counts = np.minimum(flat, 255).astype(np.uint8)
            self._counts = counts.reshape(len(values), COUNT_BUCKETS)
        return self._counts

    def array(self, ids: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.object_]:
        """The strings for an id column (an object array, which rapidfuzz reads directly)."""
        if len(self._objects) != len(self.ids):
            self._objects = np.array(self.values, object)
        picked: npt.NDArray[np.object_] = self._objects[ids]
        return picked


_SOUNDEX_DIGITS = {
    **dict.fromkeys("bfpv", "1"),
    **dict.fromkeys("cgjkqsxz", "2"),
    **dict.fromkeys("dt", "3"),
    "l": "4",
    **dict.fromkeys("mn", "5"),
    "r": "6",
}


@lru_cache(maxsize=65536)
def _soundex(name: str) -> str:
    """American Soundex of a folded name ("smith", "smyth", "smtih" -> "s530").

    Keeps the first letter and codes the consonants after it, so most one-letter typos
    and spelling variants share a code while the code still splits a surname list into
    thousands of small blocks (a last initial would give 26 huge ones).
    """
    letters = [c for c in name if "a" <= c <= "z"]
    if not letters:
        return ""
    code, previous = letters[0], _SOUNDEX_DIGITS.get(letters[0], "")
    for letter in letters[1:]:
        if letter in "hw":  # h and w do not separate two equal codes
            continue
        digit = _SOUNDEX_DIGITS.get(letter, "")
        if digit and digit != previous:
            code += digit
        previous = digit
    return (code + "000")[:4]


_HOUSE_NUMBER = re.compile(r"^\d+")


def _house_number(street: str) -> str:
    """The leading number of a folded street ("12" of "12 elm st"), or ""."""
    found = _HOUSE_NUMBER.match(street)
    return found.group(0) if found else ""


def _digits_of(email: str) -> str:
    return NOT_DIGIT.sub("", local_part(email))


def _sorted_letters(text: str) -> str:
    return "".join(sorted(text))


def _shares(ids: IntArray, size: int) -> FloatArray:
    """Per name id, the share of named records carrying it (at least 1e-4)."""
    counts = np.bincount(ids, minlength=size).astype(np.float64)
    counts[0] = 0.0
    shares: FloatArray = np.maximum(counts / max(counts.sum(), 1.0), FLOOR)
    return shares


class Prepared:
    """Records as integer columns: folded values interned once, compared as ids."""

    def __init__(self, records: Sequence[MatchRecord]) -> None:
        n = len(records)
        self.n = n
        self.keys = [r.key for r in records]
        self.first = Vocab()
        self.last = Vocab()
        self.initial = Vocab()
        self.street = Vocab()
        self.house = Vocab()
        self.post = Vocab()
        self.birth = Vocab()
        self.email = Vocab()
        self.phone = Vocab()
        first_id = self.first.column([r.first for r in records], fold)
        last_id = self.last.column([r.last for r in records], fold)
        self.post_id = self.post.column([r.postcode for r in records], fold_postcode)
        streets = [r.street for r in records]
        self.street_id = self.street.column(streets, fold_street)
        self.house_id = self.house.column(streets, lambda raw: _house_number(fold_street(raw)))
        self.birth_id = self.birth.column([r.birth_date for r in records])
        self.first_id, self.last_id = first_id, last_id

        # Emails and phones: one flat column of value ids, record k's at off[k]:off[k+1].
        email_lists = [
            r.emails if len(r.emails) < 2 else tuple(dict.fromkeys(r.emails)) for r in records
        ]
        phone_lists = [
            r.phones if len(r.phones) < 2 else tuple(dict.fromkeys(r.phones)) for r in records
        ]
        emails = [e for values in email_lists for e in values]
        self.email_flat = self.email.column(emails)
        self.email_off = np.r_[0, np.cumsum([len(v) for v in email_lists])].astype(np.int64)
        self.phone_flat = self.phone.column([p for values in phone_lists for p in values])
        self.phone_off = np.r_[0, np.cumsum([len(v) for v in phone_lists])].astype(np.int64)
        self._emails = emails
        self._email_owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(self.email_off))
        # Whether an email (by flat position) spells its owner's name: asked only for the
        # emails of compared pairs, which after a day's change are a few hundred.
        self._named = np.full(len(emails), -1, np.int8)  # -1: not asked yet

        # Per distinct first name: its initial and length (for the "initial" level).
        names = self.first.values
        self.first_initial = np.array([self.initial.id(v[:1]) for v in names], np.int64)
        self.first_len = np.array([len(v) for v in names], np.int64)
        soundex = Vocab()
        self.last_soundex = np.array([soundex.id(_soundex(v)) for v in self.last.values], np.int64)
        self.nickname_codes = self._nickname_codes()
        self.first_share = _shares(first_id, len(names))
        self.last_share = _shares(last_id, len(self.last.values))

        # Per distinct email: local part, domain, and the anagram keys that survive a
        # swapped pair of letters (gmial.com, anna.simth@).
        self.local = Vocab()
        self.domain = Vocab()
        self.anagram = Vocab()
        parts = [email.rpartition("@") for email in self.email.values]
        locals_, domains = [p[0] for p in parts], [p[2] for p in parts]
        self.email_local = self.local.column(locals_)
        self.email_domain = self.domain.column(domains)
        # Each distinct local part and domain sorted once (a store has few domains).
        self.email_local_sorted = self.anagram.column(locals_, _sorted_letters)
        self.email_domain_sorted = self.anagram.column(domains, _sorted_letters)
        self.local_len = np.array([len(v) for v in self.local.values], np.int64)
        # The digits and the letters of each email, asked only for the emails of compared
        # pairs that differ (after a day's change, a few hundred of 176,000).
        self._digits, self._bare = Vocab(), Vocab()
        self._digits_of = np.full(len(self.email.values), -1, np.int64)
        self._bare_of = np.full(len(self.email.values), -1, np.int64)
        self.tail = Vocab()
        self.phone_tail = np.array([self.tail.id(v[-7:]) for v in self.phone.values], np.int64)

    def email_digits(self, ids: IntArray) -> IntArray:
        """Per email id, an id of the digits of its local part (equal ids, equal digits)."""
        return self._lazy(ids, self._digits_of, self._digits, _digits_of)

    def email_bare(self, ids: IntArray) -> IntArray:
        """Per email id, an id of :func:`bare_address` of it."""
        return self._lazy(ids, self._bare_of, self._bare, bare_address)

    def _lazy(
        self, ids: IntArray, known: IntArray, vocab: Vocab, of: Callable[[str], str]
    ) -> IntArray:
        asked = np.unique(ids)
        values = self.email.values
        for at in asked[known[asked] < 0].tolist():
            known[at] = vocab.id(of(values[at]))
        found: IntArray = known[ids]
        return found

    def email_named(self, positions: IntArray) -> npt.NDArray[np.bool_]:
        """Does the email at each flat position merely spell its owner's names?"""
        known = self._named
        asked = np.unique(positions)
        firsts, lasts = self.first.values, self.last.values
        for at in asked[known[asked] < 0].tolist():
            owner = int(self._email_owner[at])
            first, last = firsts[self.first_id[owner]], lasts[self.last_id[owner]]
            known[at] = made_of_names(local_part(self._emails[at]), first, last)
        named: npt.NDArray[np.bool_] = known[positions] == 1
        return named

    def _nickname_codes(self) -> IntArray:
        """Codes ``lo * V + hi`` of every pair of distinct first names sharing a group."""
        size = len(self.first.values)
        members: dict[int, list[int]] = {}
        for name, name_id in self.first.ids.items():
            for group in nickname_groups(name):
                members.setdefault(group, []).append(name_id)
        codes = {
            min(x, y) * size + max(x, y)
            for ids in members.values()
            for x in ids
            for y in ids
            if x != y
        }
        return np.array(sorted(codes), np.int64)
