"""Probable duplicates: Fellegi–Sunter match scoring with weights learnt from the store.

``identity.cluster`` joins profiles only through an exact shared key (email, phone,
customer code). The people it cannot join are the ones staff care about: "Bob Smith,
bob.smith@gmial.com" typed at the till and "Robert Smith, bob.smith@gmail.com" ordering
online; "Anna Smith" who became "Anna Jones" but kept her phone. This module scores such
pairs so staff can review the likeliest first; it never joins anyone by itself.

The model is the one the ``splink`` library implements. Each pair of records is compared
field by field into an agreement level (0 = missing on either side, no evidence; 1 =
disagree; higher = stronger agreement). Each level has two probabilities: ``m``, how often
a true duplicate pair shows it, and ``u``, how often two different people do. The log2 of
``m/u`` summed over fields is the match weight; added to the prior odds that two records
taken at random are one person, it gives the posterior probability. ``u`` is measured on
random record pairs (almost all different people); ``m`` by expectation-maximisation over
the blocked candidate pairs with ``u`` held fixed, in splink's training sessions; the
prior by EM over all pairs once m and u are known. All of it is learnt from the store's
own data: a store where half the customers share a surname learns that a shared surname
says little. Three corrections for where the fields are not independent, each explained
where it sits: exact names weigh by how common the name is (splink's term-frequency
adjustment), email local parts that merely spell the owner's name do not count again,
and surname, phone and address shared together count as one household, not three
coincidences.

Blocking keeps it near-linear: only pairs sharing a blocking key (``BLOCKING_KEYS``) are
compared, and a key held by more than ``max_block`` records is skipped as no evidence.
Comparison runs column-wise on interned ids with rapidfuzz's C scorers over whole arrays,
so 200,000 records score in seconds; ``compare`` is the plain per-pair reference the fast
path is tested against.

Pure: rapidfuzz and numpy are computation libraries; nothing does I/O.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler
from rapidfuzz.process import cpdist

from greenloop.domain.nicknames import NICKNAME_GROUPS, nickname_groups, nickname_of

__all__ = [
    "DEFAULT_WEIGHTS",
    "FIELDS",
    "LEVEL_NAMES",
    "MatchRecord",
    "ScoredPair",
    "Weights",
    "candidate_pairs",
    "compare",
    "estimate_weights",
    "evidence",
    "fold",
    "names_agree",
    "score_pairs",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
LevelArray = npt.NDArray[np.int8]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class MatchRecord:
    """One profile or eCom buyer as the matcher sees it.

    Emails and phones arrive normalised with placeholders removed (``identity`` decides
    what a placeholder is); names, street and postcode arrive as typed and are folded here.
    """

    key: str  # "customer:<id>" or "email:<address>"
    first: str = ""
    last: str = ""
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    street: str = ""  # first address line
    postcode: str = ""
    birth_date: str = ""  # ISO date or ""


FIELDS: tuple[str, ...] = ("first", "last", "email", "phone", "address", "birth_date")
_FIRST, _LAST, _EMAIL, _PHONE, _ADDRESS, _BIRTH = range(len(FIELDS))

# What each level means, per field, index = level. Shown beside the weights so a reviewer
# of the learnt numbers knows what "email level 3" is.
LEVEL_NAMES: tuple[tuple[str, ...], ...] = (
    ("missing", "different", "initial", "similar spelling", "nickname", "same"),
    ("missing", "different", "similar spelling", "same"),
    ("missing", "different", "similar local parts", "a typo apart or same local part", "same"),
    ("missing", "different", "one digit off or same last 7 digits", "same"),
    ("missing", "different", "same postcode", "same street and postcode"),
    ("missing", "different", "same"),
)
_LEVEL_COUNTS = tuple(len(names) for names in LEVEL_NAMES)

# Jaro-Winkler 0.92 accepts micheal/michael and catherine/cathrine, not smith/smyth (0.89):
# surnames that close are often different families, and the other fields decide.
NAME_SIMILAR = 0.92
# Email local parts are longer and more distinctive than names; 0.9 accepts
# "annasmith" / "anna.smith80" yet not "anna" / "hannah".
LOCAL_SIMILAR = 0.9
# Two edits in a short address ("jo@x.com" / "al@x.com") are two different people, so
# the second edit counts only when the shorter local part is at least this long.
TWO_TYPOS_MIN_LOCAL = 6


# --- folding --------------------------------------------------------------------------

_APOSTROPHES = re.compile(r"['’`]")
_NOT_WORD = re.compile(r"[\W_]+")


@lru_cache(maxsize=262144)
def fold(text: str) -> str:
    """Lower case, accents stripped, punctuation to spaces, spaces collapsed.

    "José" and "Jose", "ANNA" and "Anna", "Smith-Jones" and "smith jones" fold equal.
    Apostrophes are dropped rather than spaced, so "O'Brien" folds to "obrien" like the
    "OBrien" a till keyboard produces.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    bare = _APOSTROPHES.sub("", bare.casefold())
    return " ".join(_NOT_WORD.sub(" ", bare).split())


_STREET_WORDS = {
    "street": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "drive": "dr",
    "lane": "ln",
    "boulevard": "blvd",
    "court": "ct",
    "place": "pl",
    "terrace": "ter",
    "highway": "hwy",
    "parkway": "pkwy",
    "circle": "cir",
    "square": "sq",
    "crescent": "cres",
    "apartment": "apt",
    "suite": "ste",
    "unit": "apt",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
}


@lru_cache(maxsize=262144)
def _street(text: str) -> str:
    """A folded street with the usual abbreviations, so "12 Elm Street" = "12 elm st"."""
    return " ".join(_STREET_WORDS.get(word, word) for word in fold(text).split())


_ZIP_PLUS_FOUR = re.compile(r"^(\d{5})\d{4}$")


@lru_cache(maxsize=65536)
def _postcode(text: str) -> str:
    """Folded postcode without spaces; a US ZIP+4 keeps its five-digit ZIP."""
    code = fold(text).replace(" ", "")
    plus_four = _ZIP_PLUS_FOUR.match(code)
    return plus_four.group(1) if plus_four else code


# --- per-pair reference comparison ---------------------------------------------------


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


def _local(email: str) -> str:
    return email.rpartition("@")[0]


_NOT_LETTER = re.compile(r"[^a-z]")
_NOT_DIGIT = re.compile(r"[^0-9]")


def _made_of_names(local: str, first: str, last: str) -> bool:
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
        for given in _given_forms(first)
    )


@lru_cache(maxsize=65536)
def _given_forms(first: str) -> tuple[str, ...]:
    """A folded first name and its nicknames, without spaces ("bill" for "william")."""
    forms = {first, *(name for group in nickname_groups(first) for name in NICKNAME_GROUPS[group])}
    return tuple(sorted(form.replace(" ", "") for form in forms))


def _email_level(a: str, b: str, named: bool = False) -> int:
    """4 same, 3 one typo apart (or same local part elsewhere), 2 similar local, 1 no.

    ``named``: both local parts are made of their owners' names (``_made_of_names``).
    Then only a single typo keeping the same digits counts (level 3: "anna.smith@gmial.com");
    any other likeness of the local parts, including the same local part at another
    domain and "jsmith" / "jsmith2", is the name agreement again: level 0, no evidence.
    """
    if a == b:
        return 4
    local_a, local_b = _local(a), _local(b)
    edits = DamerauLevenshtein.distance(a, b, score_cutoff=3)
    typo = edits <= 1 or (edits == 2 and min(len(local_a), len(local_b)) >= TWO_TYPOS_MIN_LOCAL)
    if named:
        same_digits = _NOT_DIGIT.sub("", local_a) == _NOT_DIGIT.sub("", local_b)
        return 3 if edits <= 1 and same_digits else 0
    if typo or local_a == local_b:
        return 3
    return 2 if JaroWinkler.normalized_similarity(local_a, local_b) >= LOCAL_SIMILAR else 1


def _email_comparer(a: MatchRecord, b: MatchRecord) -> Callable[[str, str], int]:
    first_a, last_a, first_b, last_b = fold(a.first), fold(a.last), fold(b.first), fold(b.last)

    def level(x: str, y: str) -> int:
        named = _made_of_names(_local(x), first_a, last_a) and _made_of_names(
            _local(y), first_b, last_b
        )
        return _email_level(x, y, named)

    return level


def _phone_level(a: str, b: str) -> int:
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
    return (
        _first_level(fold(a.first), fold(b.first)),
        _last_level(fold(a.last), fold(b.last)),
        _best(a.emails, b.emails, _email_comparer(a, b)),
        _best(a.phones, b.phones, _phone_level),
        _address_level(
            _street(a.street), _postcode(a.postcode), _street(b.street), _postcode(b.postcode)
        ),
        0 if not a.birth_date or not b.birth_date else 2 if a.birth_date == b.birth_date else 1,
    )


# --- column-wise preparation ----------------------------------------------------------


class _Vocab:
    """Interned strings; id 0 is always "" so "missing" is a single comparison."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {"": 0}
        self._values: list[str] = [""]
        self._objects: npt.NDArray[np.object_] = np.array([""], object)
        self._lengths: IntArray = np.zeros(1, np.int64)

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

    def array(self, ids: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.object_]:
        """The strings for an id column (an object array, which rapidfuzz reads directly)."""
        if len(self._objects) != len(self.ids):
            self._objects = np.array(self.values, object)
        picked: npt.NDArray[np.object_] = self._objects[ids]
        return picked


def _sorted_unique(values: IntArray) -> IntArray:
    """``np.unique`` by sorting (numpy's hashing unique is slower on millions of ints)."""
    ordered = np.sort(values)
    if len(ordered) == 0:
        return ordered
    unique: IntArray = ordered[np.r_[True, ordered[1:] != ordered[:-1]]]
    return unique


def _unique_inverse(values: IntArray) -> tuple[IntArray, IntArray]:
    """Sorted distinct values and, per value, its index among them."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    first = np.r_[True, ordered[1:] != ordered[:-1]]
    inverse = np.empty(len(values), np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse


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


def _sorted_letters(text: str) -> str:
    return "".join(sorted(text))


def _shares(ids: IntArray, size: int) -> FloatArray:
    """Per name id, the share of named records carrying it (at least 1e-4)."""
    counts = np.bincount(ids, minlength=size).astype(np.float64)
    counts[0] = 0.0
    shares: FloatArray = np.maximum(counts / max(counts.sum(), 1.0), _FLOOR)
    return shares


class _Prepared:
    """Records as integer columns: folded values interned once, compared as ids."""

    def __init__(self, records: Sequence[MatchRecord]) -> None:
        n = len(records)
        self.n = n
        self.keys = [r.key for r in records]
        self.first = _Vocab()
        self.last = _Vocab()
        self.initial = _Vocab()
        self.street = _Vocab()
        self.house = _Vocab()
        self.post = _Vocab()
        self.birth = _Vocab()
        self.email = _Vocab()
        self.phone = _Vocab()
        first_id = self.first.column([r.first for r in records], fold)
        last_id = self.last.column([r.last for r in records], fold)
        self.post_id = self.post.column([r.postcode for r in records], _postcode)
        streets = [r.street for r in records]
        self.street_id = self.street.column(streets, _street)
        self.house_id = self.house.column(streets, lambda raw: _house_number(_street(raw)))
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
        owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(self.email_off))
        firsts, lasts = self.first.values, self.last.values
        self.email_named = np.array(
            [
                _made_of_names(_local(email), firsts[f], lasts[la])
                for email, f, la in zip(
                    emails, first_id[owner].tolist(), last_id[owner].tolist(), strict=True
                )
            ],
            np.bool_,
        )

        # Per distinct first name: its initial and length (for the "initial" level).
        names = self.first.values
        self.first_initial = np.array([self.initial.id(v[:1]) for v in names], np.int64)
        self.first_len = np.array([len(v) for v in names], np.int64)
        soundex = _Vocab()
        self.last_soundex = np.array([soundex.id(_soundex(v)) for v in self.last.values], np.int64)
        self.nickname_codes = self._nickname_codes()
        self.first_share = _shares(first_id, len(names))
        self.last_share = _shares(last_id, len(self.last.values))

        # Per distinct email: local part, domain, and the anagram keys that survive a
        # swapped pair of letters (gmial.com, anna.simth@).
        self.local = _Vocab()
        self.domain = _Vocab()
        self.anagram = _Vocab()
        local_id, domain_id, local_sorted, domain_sorted = [], [], [], []
        for email in self.email.values:
            local, _, domain = email.rpartition("@")
            local_id.append(self.local.id(local))
            domain_id.append(self.domain.id(domain))
            local_sorted.append(self.anagram.id(_sorted_letters(local)))
            domain_sorted.append(self.anagram.id(_sorted_letters(domain)))
        self.email_local = np.array(local_id, np.int64)
        self.email_domain = np.array(domain_id, np.int64)
        self.email_local_sorted = np.array(local_sorted, np.int64)
        self.email_domain_sorted = np.array(domain_sorted, np.int64)
        self.local_len = np.array([len(v) for v in self.local.values], np.int64)
        digits = _Vocab()
        self.email_digits = np.array(
            [digits.id(_NOT_DIGIT.sub("", _local(v))) for v in self.email.values], np.int64
        )
        self.tail = _Vocab()
        self.phone_tail = np.array([self.tail.id(v[-7:]) for v in self.phone.values], np.int64)

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


# --- column-wise comparison -----------------------------------------------------------


# One worker: on this scale rapidfuzz spends its time reading the Python strings, which
# one thread does anyway; a second worker measured slower on two cores.
def _similar(a: npt.NDArray[np.object_], b: npt.NDArray[np.object_], at_least: float) -> BoolArray:
    """Jaro-Winkler(a, b) >= at_least, elementwise (the cutoff lets rapidfuzz stop early)."""
    if len(a) == 0:
        return np.zeros(0, np.bool_)
    scores = cpdist(
        a,
        b,
        scorer=JaroWinkler.normalized_similarity,
        score_cutoff=at_least,
        dtype=np.float64,
        workers=1,
    )
    similar: BoolArray = np.asarray(scores) >= at_least
    return similar


def _edits(vocab: _Vocab, a: IntArray, b: IntArray, cutoff: int) -> IntArray:
    """Damerau-Levenshtein distance of two id columns' strings, ``cutoff`` when larger.

    Strings whose lengths differ by ``cutoff`` or more are at least that far apart and
    are not handed to rapidfuzz at all (most email pairs).
    """
    lengths = vocab.lengths()
    out = np.full(len(a), cutoff, np.int64)
    near = np.flatnonzero(np.abs(lengths[a] - lengths[b]) < cutoff)
    if len(near):
        distances = cpdist(
            vocab.array(a[near]),
            vocab.array(b[near]),
            scorer=DamerauLevenshtein.distance,
            score_cutoff=cutoff,
            dtype=np.int32,
            workers=1,
        )
        out[near] = np.minimum(np.asarray(distances, np.int64), cutoff)
    return out


def _name_levels(
    ids_a: IntArray,
    ids_b: IntArray,
    vocab: _Vocab,
    fuzzy: Callable[[IntArray, IntArray], IntArray],
    top: int,
) -> LevelArray:
    """Levels for a name column: 0 missing, ``top`` equal, else ``fuzzy`` on distinct pairs."""
    levels = np.ones(len(ids_a), np.int8)
    other = (ids_a != ids_b) & (ids_a != 0) & (ids_b != 0)
    if other.any():
        size = len(vocab.values)
        lo = np.minimum(ids_a[other], ids_b[other])
        hi = np.maximum(ids_a[other], ids_b[other])
        unique, inverse = _unique_inverse(lo * size + hi)
        levels[other] = fuzzy(unique // size, unique % size)[inverse]
    levels[ids_a == ids_b] = top
    levels[(ids_a == 0) | (ids_b == 0)] = 0
    return levels


def _explode(off: IntArray, i: IntArray, j: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Every (value of i, value of j) combination per pair, as positions in the flat
    value array: the count per pair, then the two position columns."""
    count_a = off[i + 1] - off[i]
    count_b = off[j + 1] - off[j]
    combos = count_a * count_b
    total = int(combos.sum())
    start = np.cumsum(combos) - combos
    within = np.arange(total, dtype=np.int64) - np.repeat(start, combos)
    per_b = np.maximum(np.repeat(count_b, combos), 1)
    at_a = np.repeat(off[i], combos) + within // per_b
    at_b = np.repeat(off[j], combos) + within % per_b
    return combos, at_a, at_b


def _best_per_pair(combos: IntArray, row_levels: LevelArray) -> LevelArray:
    levels = np.zeros(len(combos), np.int8)
    present = combos > 0
    if present.any():
        starts = (np.cumsum(combos) - combos)[present]
        levels[present] = np.maximum.reduceat(row_levels, starts)
    return levels


def _levels(prep: _Prepared, i: IntArray, j: IntArray) -> LevelArray:
    """``compare`` for many pairs at once: an array of shape (pairs, fields)."""
    out = np.zeros((len(i), len(FIELDS)), np.int8)
    if len(i) == 0:
        return out

    def first_fuzzy(a: IntArray, b: IntArray) -> IntArray:
        size = len(prep.first.values)
        nickname = np.isin(a * size + b, prep.nickname_codes)
        similar = _similar(prep.first.array(a), prep.first.array(b), NAME_SIMILAR)
        initial = ((prep.first_len[a] == 1) | (prep.first_len[b] == 1)) & (
            prep.first_initial[a] == prep.first_initial[b]
        )
        return np.where(nickname, 4, np.where(similar, 3, np.where(initial, 2, 1)))

    def last_fuzzy(a: IntArray, b: IntArray) -> IntArray:
        similar = _similar(prep.last.array(a), prep.last.array(b), NAME_SIMILAR)
        return np.where(similar, 2, 1)

    out[:, _FIRST] = _name_levels(prep.first_id[i], prep.first_id[j], prep.first, first_fuzzy, 5)
    out[:, _LAST] = _name_levels(prep.last_id[i], prep.last_id[j], prep.last, last_fuzzy, 3)

    combos, at_a, at_b = _explode(prep.email_off, i, j)
    ea, eb = prep.email_flat[at_a], prep.email_flat[at_b]
    rows = np.where(ea == eb, 4, 0).astype(np.int8)
    rest = np.flatnonzero(rows == 0)
    if len(rest):
        a_ids, b_ids = ea[rest], eb[rest]
        local_a, local_b = prep.email_local[a_ids], prep.email_local[b_ids]
        edits = _edits(prep.email, a_ids, b_ids, 3)
        shorter = np.minimum(prep.local_len[local_a], prep.local_len[local_b])
        typo = (edits <= 1) | ((edits == 2) & (shorter >= TWO_TYPOS_MIN_LOCAL))
        same_digits = prep.email_digits[a_ids] == prep.email_digits[b_ids]
        named = prep.email_named[at_a[rest]] & prep.email_named[at_b[rest]]
        close = typo | (local_a == local_b)
        levels = np.where(named, np.where((edits <= 1) & same_digits, 3, 0), np.where(close, 3, 1))
        unsure = np.flatnonzero(~named & ~close)  # similar local parts, or different
        similar = _similar(
            prep.local.array(local_a[unsure]), prep.local.array(local_b[unsure]), LOCAL_SIMILAR
        )
        levels[unsure[similar]] = 2
        rows[rest] = levels
    out[:, _EMAIL] = _best_per_pair(combos, rows)

    combos, at_a, at_b = _explode(prep.phone_off, i, j)
    pa, pb = prep.phone_flat[at_a], prep.phone_flat[at_b]
    rows = np.where(pa == pb, 3, 0).astype(np.int8)
    rows[(rows == 0) & (prep.phone_tail[pa] == prep.phone_tail[pb])] = 2
    rest = np.flatnonzero(rows == 0)
    if len(rest):
        edits = _edits(prep.phone, pa[rest], pb[rest], 2)
        rows[rest] = np.where(edits <= 1, 2, 1)
    out[:, _PHONE] = _best_per_pair(combos, rows)

    post_a, post_b = prep.post_id[i], prep.post_id[j]
    street_a, street_b = prep.street_id[i], prep.street_id[j]
    address = np.where(
        post_a == post_b, np.where((street_a == street_b) & (street_a != 0), 3, 2), 1
    )
    address[(post_a == 0) | (post_b == 0)] = 0
    out[:, _ADDRESS] = address

    birth_a, birth_b = prep.birth_id[i], prep.birth_id[j]
    birth = np.where(birth_a == birth_b, 2, 1)
    birth[(birth_a == 0) | (birth_b == 0)] = 0
    out[:, _BIRTH] = birth
    return out


# --- blocking -------------------------------------------------------------------------

# Blocking keys, each a pair of non-zero ids. A record may hold several keys of one kind
# (two emails, a name in two nickname groups).
BLOCKING_KEYS: tuple[str, ...] = (
    "last name + first initial",
    "first name + Soundex code of the last name (smith, smyth, smtih)",
    "last name + nickname group of the first name",
    "email local part",
    "email local part + letters of the domain, sorted (catches gmial.com)",
    "email domain + letters of the local part, sorted (catches swapped letters)",
    "phone, last 7 digits",
    "postcode + house number (any names at one address: married, nickname, typo)",
    "first name + postcode",
)


def _block_entries(prep: _Prepared) -> Iterable[tuple[IntArray, IntArray, IntArray]]:
    """(record, id a, id b) columns per kind of blocking key, in ``BLOCKING_KEYS`` order."""
    records = np.arange(prep.n, dtype=np.int64)
    first_initial = prep.first_initial[prep.first_id]
    yield records, prep.last_id, first_initial
    yield records, prep.first_id, prep.last_soundex[prep.last_id]

    group_rec: list[int] = []
    group_no: list[int] = []
    names = prep.first.values
    grouped = {k: sorted(nickname_groups(v)) for k, v in enumerate(names) if nickname_groups(v)}
    for record, name_id in enumerate(prep.first_id.tolist()):
        for group in grouped.get(name_id, ()):
            group_rec.append(record)
            group_no.append(group + 1)
    group_records = np.array(group_rec, np.int64)
    yield group_records, prep.last_id[group_records], np.array(group_no, np.int64)

    email_records = np.repeat(records, np.diff(prep.email_off))
    flat = prep.email_flat
    local = prep.email_local[flat]
    yield email_records, local, np.ones(len(flat), np.int64)
    yield email_records, local, prep.email_domain_sorted[flat]
    yield email_records, prep.email_domain[flat], prep.email_local_sorted[flat]

    phone_records = np.repeat(records, np.diff(prep.phone_off))
    yield phone_records, prep.phone_tail[prep.phone_flat], np.ones(len(prep.phone_flat), np.int64)
    yield records, prep.post_id, prep.house_id
    yield records, prep.first_id, prep.post_id


def _candidates(prep: _Prepared, max_block: int) -> tuple[IntArray, IntArray]:
    """Candidate pairs as two index columns, i < j, sorted, each pair once."""
    n = prep.n
    pair_codes: list[IntArray] = [np.zeros(0, np.int64)]
    for rec, key_a, key_b in _block_entries(prep):
        keep = (key_a != 0) & (key_b != 0)
        if keep.sum() < 2:
            continue
        key = key_a[keep] * (int(key_b[keep].max()) + 1) + key_b[keep]
        order = np.argsort(key, kind="stable")
        key, members_of = key[order], rec[keep][order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        sizes = np.diff(np.r_[starts, len(key)])
        wanted = (sizes >= 2) & (sizes <= max_block)
        starts, sizes = starts[wanted], sizes[wanted]
        if len(sizes) == 0:
            continue
        by_size = np.argsort(sizes, kind="stable")
        starts, sizes = starts[by_size], sizes[by_size]
        bounds = np.flatnonzero(np.r_[True, sizes[1:] != sizes[:-1], True])
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            size = int(sizes[lo])
            members = members_of[starts[lo:hi, None] + np.arange(size)]
            left, right = np.triu_indices(size, 1)
            a, b = members[:, left].ravel(), members[:, right].ravel()
            distinct = a != b  # one record can hold a key twice (two emails)
            a, b = a[distinct], b[distinct]
            pair_codes.append(np.minimum(a, b) * n + np.maximum(a, b))
    unique = _sorted_unique(np.concatenate(pair_codes))
    return unique // max(n, 1), unique % max(n, 1)


def candidate_pairs(
    records: Sequence[MatchRecord], *, max_block: int = 200
) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, sharing at least one blocking key, sorted.

    A key held by more than ``max_block`` records (a surname half the town shares, a
    building's postcode and a common initial) is skipped: it is no evidence, and comparing
    all its pairs would be quadratic.
    """
    i, j = _candidates(_Prepared(records), max_block)
    return list(zip(i.tolist(), j.tolist(), strict=True))


# --- weights --------------------------------------------------------------------------

_FLOOR = 1e-4
# The fields a household shares, with the lowest level that counts as sharing it.
_HOUSEHOLD_FIELDS = ((_LAST, 2), (_PHONE, 2), (_ADDRESS, 3))


def _clamp(values: Iterable[float]) -> tuple[float, ...]:
    """Probabilities over levels 1.., each kept in [1e-4, 1 - 1e-4], summing to 1."""
    clipped = np.clip(np.asarray(list(values), np.float64), _FLOOR, 1 - _FLOOR)
    return tuple(float(v) for v in clipped / clipped.sum())


def _with_unused_zero(levels: Sequence[tuple[float, ...]]) -> tuple[tuple[float, ...], ...]:
    return tuple((0.0, *values) for values in levels)


@lru_cache(maxsize=64)
def _log2_table(m: tuple[tuple[float, ...], ...], u: tuple[tuple[float, ...], ...]) -> FloatArray:
    table = np.zeros((len(FIELDS), max(_LEVEL_COUNTS)), np.float64)
    for f, (m_f, u_f) in enumerate(zip(m, u, strict=True)):
        for level in range(1, len(m_f)):
            table[f, level] = math.log2(m_f[level] / u_f[level])
    table.flags.writeable = False
    return table


@dataclass(frozen=True)
class Weights:
    """m and u per field and level (index 0, "missing", is unused), and the prior.

    ``prior`` is the probability that two records taken at random are one person, the
    prior the match weight is applied to. It is deliberately not the share of candidate
    pairs that are matches (kept as ``candidate_share``, for people): a candidate pair was
    chosen because it agrees on a blocking field, and its match weight already counts that
    agreement, so using the candidate share as the prior would count it twice.
    """

    m: tuple[tuple[float, ...], ...]
    u: tuple[tuple[float, ...], ...]
    prior: float  # probability that two records taken at random are one person
    candidate_share: float = 0.0  # expected share of matches among the candidate pairs
    household: float = 0.0  # probability that two different people share a household

    def log2_table(self) -> FloatArray:
        """log2(m/u) as a read-only array (fields, max levels), 0 for level 0 and beyond."""
        return _log2_table(self.m, self.u)

    def bayes_factor_log2(self, levels: tuple[int, ...]) -> float:
        """The match weight: sum of log2(m/u) over fields with evidence (level > 0), with
        the household correction (``match_weights``)."""
        return float(self.match_weights(np.array([levels], np.int8))[0])

    def match_weights(
        self, levels: LevelArray, last_name_adjustment: FloatArray | None = None
    ) -> FloatArray:
        """``bayes_factor_log2`` for rows of levels at once.

        Household correction: surname, phone and address are not independent. Two
        different people sharing one agree on the others far more often than the product
        of their u values says, because they live together. When two or more of them
        agree, their joint u is taken as at least ``household``, the store's measured
        rate of different people sharing a household, instead of the product. Without
        it a couple sharing phone, surname and address outweighs any first-name evidence.
        ``last_name_adjustment`` (the term-frequency one) is added to the surname weight
        before the correction, so a common surname is not counted twice.
        """
        table = self.log2_table()
        rows = np.arange(len(levels))
        per_field = table[np.arange(len(FIELDS)), levels]  # (pairs, fields)
        if last_name_adjustment is not None:
            per_field[:, _LAST] += last_name_adjustment
        scores: FloatArray = per_field.sum(axis=1)
        if self.household <= 0 or len(levels) == 0:
            return scores
        group = np.zeros(len(levels), np.float64)
        log_m = np.zeros(len(levels), np.float64)
        agreeing = np.zeros(len(levels), np.int64)
        for field, lowest in _HOUSEHOLD_FIELDS:
            agrees = levels[:, field] >= lowest
            m = np.log2(np.asarray((1.0, *self.m[field][1:]), np.float64)[levels[rows, field]])
            group += np.where(agrees, per_field[:, field], 0.0)
            log_m += np.where(agrees, m, 0.0)
            agreeing += agrees
        excess = group - (log_m - math.log2(self.household))
        scores -= np.where(agreeing >= 2, np.maximum(excess, 0.0), 0.0)
        return scores

    def probability(self, score: float) -> float:
        """Posterior probability of a match for a match weight, given the prior."""
        logit = score + math.log2(self.prior / (1 - self.prior))
        return 1 / (1 + 2 ** min(-logit, 1000.0))

    def as_json(self) -> dict[str, Any]:
        return {
            "prior": self.prior,
            "candidate_share": self.candidate_share,
            "household": self.household,
            "fields": {
                name: [
                    {
                        "level": level,
                        "meaning": LEVEL_NAMES[f][level],
                        "m": self.m[f][level],
                        "u": self.u[f][level],
                        "weight_log2": math.log2(self.m[f][level] / self.u[f][level]),
                    }
                    for level in range(1, _LEVEL_COUNTS[f])
                ]
                for f, name in enumerate(FIELDS)
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Weights:
        fields = data["fields"]
        m = tuple((0.0, *(float(row["m"]) for row in fields[name])) for name in FIELDS)
        u = tuple((0.0, *(float(row["u"]) for row in fields[name])) for name in FIELDS)
        return cls(
            m=m,
            u=u,
            prior=float(data["prior"]),
            candidate_share=float(data.get("candidate_share", 0.0)),
            household=float(data.get("household", 0.0)),
        )


# Starting points and fallbacks, per field over levels 1.. (see LEVEL_NAMES): what a
# duplicate pair (m) and two different people (u) typically show in a store's data.
_DEFAULT_M: tuple[tuple[float, ...], ...] = (
    (0.001, 0.03, 0.06, 0.06, 0.849),
    (0.12, 0.05, 0.83),
    (0.30, 0.05, 0.10, 0.55),
    (0.20, 0.05, 0.75),
    (0.20, 0.10, 0.70),
    (0.05, 0.95),
)
_DEFAULT_U: tuple[tuple[float, ...], ...] = (
    (0.97, 0.01, 0.01, 0.002, 0.008),
    (0.985, 0.01, 0.005),
    (0.9996, 0.0002, 0.0001, 0.0001),
    (0.9998, 0.0001, 0.0001),
    (0.98, 0.019, 0.001),
    (0.9997, 0.0003),
)
# A 20,000-record store with 2,000 duplicate pairs: 2,000 / (20,000 * 19,999 / 2).
_DEFAULT_PRIOR = 1e-5
# A true duplicate whose first names are unrelated (not equal, similar, a nickname or an
# initial) is rare: a name typed into the wrong box, a spouse's profile used at the till.
# EM cannot learn this share: a household (two people sharing phone, surname and address)
# agrees on three fields the model treats as independent, looks like a duplicate with a
# different first name, and drags the learnt share up (to ~30% on synthetic data with 5%
# households). Capped here, the same policy as the exact-key linker's ``names_agree``.
MAX_M_FIRST_NAMES_DIFFERENT = 1e-3

DEFAULT_WEIGHTS = Weights(
    m=_with_unused_zero([_clamp(values) for values in _DEFAULT_M]),
    u=_with_unused_zero([_clamp(values) for values in _DEFAULT_U]),
    prior=_DEFAULT_PRIOR,
    household=_DEFAULT_PRIOR / 2,  # one household pair for every two duplicate pairs
)

# Pseudo-observations of the default distribution added to each estimate: negligible with
# real volumes, and a smooth fallback to the defaults for a field seen too rarely. u gets
# more of them because a small store's random pairs are few and include its duplicates.
_PSEUDO_M = 5.0
_PSEUDO_U = 1000.0
_MIN_PAIRS_FOR_M = 30

# Training sessions, as splink runs them. Candidate pairs were chosen because they agree
# on some fields (a shared surname, a shared email local part), so among them even
# different people agree there far more often than random pairs do: left free, EM calls
# nearly every candidate a match. Each session therefore takes the candidates agreeing
# on its own fields, learns m only for the other fields, and the estimates are averaged.
_SESSIONS: tuple[
    tuple[str, tuple[int, ...], Callable[[LevelArray], npt.NDArray[np.bool_]]], ...
] = (
    ("same last name", (_FIRST, _LAST), lambda lv: (lv[:, _LAST] == 3) & (lv[:, _FIRST] >= 2)),
    ("close emails", (_EMAIL,), lambda lv: lv[:, _EMAIL] >= 3),
    ("close phones", (_PHONE,), lambda lv: lv[:, _PHONE] >= 2),
    (
        "same postcode",
        (_FIRST, _ADDRESS),
        lambda lv: (lv[:, _ADDRESS] >= 2) & (lv[:, _FIRST] >= 2),
    ),
)


def _level_distribution(
    levels: LevelArray,
    weight: FloatArray,
    field: int,
    default: tuple[float, ...],
    pseudo: float,
) -> tuple[float, ...]:
    """Weighted share of each level 1.. in a column, smoothed towards ``default``."""
    size = len(default)
    counts = np.bincount(levels[:, field], weights=weight, minlength=size + 1)[1 : size + 1]
    smoothed = counts + pseudo * np.asarray(default, np.float64)
    return _clamp(smoothed / smoothed.sum())


def _pattern_log(
    patterns: LevelArray, probabilities: Sequence[tuple[float, ...]], fields: Iterable[int]
) -> FloatArray:
    """Natural log of the product of the fields' probabilities for each level pattern."""
    total = np.zeros(len(patterns), np.float64)
    for f in fields:
        table = np.log(np.asarray((1.0, *probabilities[f]), np.float64))  # level 0: no term
        total += table[patterns[:, f]]
    return total


def _posterior(log_m: FloatArray, log_u: FloatArray, prior: float) -> FloatArray:
    logit = log_m - log_u + math.log(prior / (1 - prior))
    return np.asarray(1 / (1 + np.exp(-np.clip(logit, -700, 700))), np.float64)


def _random_pair_levels(prep: _Prepared, seed: int, count: int) -> LevelArray:
    """Levels of ``count`` random pairs of distinct records, or of every pair if fewer."""
    n = prep.n
    if n * (n - 1) // 2 <= count:
        i, j = np.triu_indices(n, 1)
        return _levels(prep, i.astype(np.int64), j.astype(np.int64))
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, count, dtype=np.int64)
    j = rng.integers(0, n - 1, count, dtype=np.int64)
    j += j >= i
    return _levels(prep, i, j)


def _estimate(
    prep: _Prepared,
    candidates: LevelArray,
    *,
    seed: int,
    random_pairs: int,
    iterations: int,
) -> Weights:
    fields = range(len(FIELDS))
    # u: random pairs of distinct records are different people all but ~1/n of the time.
    if prep.n >= 2 and random_pairs > 0:
        random_levels = _random_pair_levels(prep, seed, random_pairs)
        ones = np.ones(len(random_levels), np.float64)
        u = [_level_distribution(random_levels, ones, f, _DEFAULT_U[f], _PSEUDO_U) for f in fields]
    else:
        u = [_clamp(values) for values in _DEFAULT_U]
    m = [_clamp(values) for values in _DEFAULT_M]
    if len(candidates) == 0:
        prior = min(0.5, 0.2 / max(prep.n, 1))  # about one duplicate per ten records
        return Weights(m=_with_unused_zero(m), u=_with_unused_zero(u), prior=prior)

    patterns, counts = _pattern_counts(candidates)
    rounds = max(iterations, 1)

    # m: one EM per session over its pairs' distinct level patterns, u held fixed.
    if len(candidates) >= _MIN_PAIRS_FOR_M:
        learnt: list[list[tuple[float, tuple[float, ...]]]] = [[] for _ in fields]
        for _name, fixed, selects in _SESSIONS:
            chosen = selects(patterns)
            if counts[chosen].sum() < _MIN_PAIRS_FOR_M:
                continue
            session, weight_of = patterns[chosen], counts[chosen]
            free = [f for f in fields if f not in fixed]
            session_m = list(m)
            log_u = _pattern_log(session, u, free)
            prior = 0.5
            weight = weight_of * prior
            for _ in range(rounds):
                posterior = _posterior(_pattern_log(session, session_m, free), log_u, prior)
                weight = weight_of * posterior
                for f in free:
                    session_m[f] = _level_distribution(session, weight, f, _DEFAULT_M[f], _PSEUDO_M)
                new_prior = float(np.clip(weight.sum() / weight_of.sum(), _FLOOR, 1 - _FLOOR))
                converged = abs(new_prior - prior) < 1e-7
                prior = new_prior
                if converged:
                    break
            for f in free:
                # Weighted by how many matches the session saw with this field present.
                mass = float(weight[session[:, f] > 0].sum())
                learnt[f].append((mass, session_m[f]))
        for f in fields:
            total = sum(mass for mass, _ in learnt[f])
            if total > 0:
                mixed = sum(mass * np.asarray(values) for mass, values in learnt[f])
                m[f] = _clamp(np.asarray(mixed, np.float64) / total)

    m[_FIRST] = _cap_first_level(m[_FIRST])
    # Households: pairs sharing two of surname, phone and address whose first names are
    # unrelated. Counted over all record pairs, it is the joint u of such sharing.
    total_pairs = prep.n * (prep.n - 1) / 2
    shared = sum(
        (patterns[:, field] >= lowest).astype(np.int64) for field, lowest in _HOUSEHOLD_FIELDS
    )
    households = float(counts[(shared >= 2) & (patterns[:, _FIRST] == 1)].sum())
    household = min(max(households, 1.0) / total_pairs, 1.0)

    # The prior, m and u now fixed: EM over every pair of records, taking the pairs that
    # blocking left out as non-matches (they share no key, so their weight is far below).
    fitted = Weights(
        m=_with_unused_zero(m), u=_with_unused_zero(u), prior=_DEFAULT_PRIOR, household=household
    )
    log_bf = fitted.match_weights(patterns) * math.log(2)
    prior = min(0.5, counts.sum() / total_pairs / 2)
    matches = 0.0
    for _ in range(max(rounds, 200)):
        matches = float((counts * _posterior(log_bf, np.zeros(1), prior)).sum())
        new_prior = min(max(matches / total_pairs, 1e-15), 1 - _FLOOR)
        converged = abs(new_prior - prior) <= 1e-9 * prior
        prior = new_prior
        if converged:
            break
    return Weights(
        m=fitted.m,
        u=fitted.u,
        prior=prior,
        candidate_share=float(matches / counts.sum()),
        household=household,
    )


def _pattern_counts(levels: LevelArray) -> tuple[LevelArray, FloatArray]:
    """The distinct rows of a level array and how often each occurs (EM runs over these:
    a few hundred patterns instead of millions of pairs)."""
    base = max(_LEVEL_COUNTS)
    powers = base ** np.arange(len(FIELDS), dtype=np.int64)
    tally = np.bincount(levels.astype(np.int64) @ powers, minlength=1)
    present = np.flatnonzero(tally)
    patterns = ((present[:, None] // powers) % base).astype(np.int8)
    return patterns, tally[present].astype(np.float64)


def _cap_first_level(values: tuple[float, ...]) -> tuple[float, ...]:
    """First-name m with "different" capped (see MAX_M_FIRST_NAMES_DIFFERENT)."""
    different = min(values[0], MAX_M_FIRST_NAMES_DIFFERENT)
    rest = np.asarray(values[1:], np.float64)
    rest = rest / rest.sum() * (1 - different)
    return (different, *(float(v) for v in rest))


def estimate_weights(
    records: Sequence[MatchRecord],
    pairs: Sequence[tuple[int, int]],
    *,
    seed: int = 0,
    random_pairs: int = 200_000,
    iterations: int = 25,
) -> Weights:
    """m, u and the prior learnt from this store's records (deterministic for a seed).

    ``u`` comes from ``random_pairs`` random record pairs; ``m`` and the prior from
    expectation-maximisation over the candidate ``pairs`` with ``u`` held fixed. Every
    probability is kept within [1e-4, 1 - 1e-4] so no single level decides alone. With
    fewer than 30 candidate pairs ``m`` keeps its defaults and only the prior is fitted;
    a field that rarely has values on both sides stays close to its defaults.
    """
    prep = _Prepared(records)
    i = np.array([p[0] for p in pairs], np.int64)
    j = np.array([p[1] for p in pairs], np.int64)
    return _estimate(
        prep, _levels(prep, i, j), seed=seed, random_pairs=random_pairs, iterations=iterations
    )


# --- scoring and evidence -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScoredPair:
    a: str  # member key, a < b
    b: str
    score: float  # log2 Bayes factor (match weight), names adjusted for how common they are
    probability: float  # posterior probability of a match given the prior
    levels: tuple[int, ...]
    evidence: tuple[str, ...]  # for a shop assistant, strongest first


def score_pairs(
    records: Sequence[MatchRecord],
    *,
    weights: Weights | None = None,
    skip: Callable[[str, str], bool] | None = None,
    min_probability: float = 0.5,
    seed: int = 0,
    max_block: int = 200,
) -> tuple[list[ScoredPair], Weights]:
    """Likely duplicates, best first, and the weights used.

    Blocks, learns weights when none are given (from every candidate pair, including
    those ``skip`` drops: a pair already known as one person is good evidence of what
    duplicates look like), then keeps pairs with probability >= ``min_probability`` that
    ``skip(a, b)`` (keys, a < b) does not reject. Ties sort by keys, so the output is
    deterministic. Records sharing one key are never paired.
    """
    prep = _Prepared(records)
    i, j = _candidates(prep, max_block)
    levels = _levels(prep, i, j)
    if weights is None:
        weights = _estimate(prep, levels, seed=seed, random_pairs=200_000, iterations=25)
    first_adjustment, last_adjustment = _name_frequency_adjustments(prep, i, levels, weights)
    scores = weights.match_weights(levels, last_adjustment) + first_adjustment
    logit = scores + math.log2(weights.prior / (1 - weights.prior))
    probabilities = 1 / (1 + np.exp2(-np.clip(logit, -1000, 1000)))
    out: list[ScoredPair] = []
    for k in np.flatnonzero(probabilities >= min_probability).tolist():
        x, y = int(i[k]), int(j[k])
        if prep.keys[x] > prep.keys[y]:
            x, y = y, x
        key_a, key_b = prep.keys[x], prep.keys[y]
        if key_a == key_b or (skip is not None and skip(key_a, key_b)):
            continue
        row = tuple(int(v) for v in levels[k])
        out.append(
            ScoredPair(
                a=key_a,
                b=key_b,
                score=float(scores[k]),
                probability=float(probabilities[k]),
                levels=row,
                evidence=evidence(records[x], records[y], row, weights=weights),
            )
        )
    out.sort(key=lambda p: (-p.score, p.a, p.b))
    return out, weights


def _name_frequency_adjustments(
    prep: _Prepared, i: IntArray, levels: LevelArray, weights: Weights
) -> tuple[FloatArray, FloatArray]:
    """splink's term-frequency adjustment for exactly equal first and last names.

    The learnt u for "same last name" is an average over the store; two Smiths agreeing
    is weaker evidence than two Quarrys. For an exact name the average u is replaced by
    the share of the store's named records carrying that name (at least 1e-4): a common
    name counts less than the average, a rare one more. Returns the log2 adjustments for
    first and last names.
    """
    out: list[FloatArray] = []
    for field, ids, share in (
        (_FIRST, prep.first_id, prep.first_share),
        (_LAST, prep.last_id, prep.last_share),
    ):
        top = _LEVEL_COUNTS[field] - 1
        exact = levels[:, field] == top
        adjustment = np.zeros(len(i), np.float64)
        adjustment[exact] = np.log2(weights.u[field][top] / share[ids[i[exact]]])
        out.append(adjustment)
    return out[0], out[1]


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
    if field == _FIRST:
        x, y = _typed(a.first), _typed(b.first)
        return {
            5: f"same first name {x}",
            4: f"first names {x} / {y} (nickname)",
            3: f"first names {x} / {y} (similar spelling)",
            2: f"first name initial {x} / {y}",
        }.get(level, f"different first names {x} / {y}")
    if field == _LAST:
        x, y = _typed(a.last), _typed(b.last)
        return {
            3: f"same last name {x}",
            2: f"last names {x} / {y} (similar spelling)",
        }.get(level, f"different last names {x} / {y}")
    if field == _EMAIL:
        x, y = _pick(a.emails, b.emails, _email_comparer(a, b), level)
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
    if field == _PHONE:
        x, y = _pick(a.phones, b.phones, _phone_level, level)
        if level == 3:
            return f"same phone {x}"
        if level == 2:
            if x[-7:] == y[-7:]:
                return f"phones end in the same 7 digits: {x} / {y}"
            return f"phones differ by one digit: {x} / {y}"
        return f"different phones {x} / {y}"
    if field == _ADDRESS:
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
    only spell the names (``_made_of_names``) are shown last, as no evidence.
    """
    table = (weights or DEFAULT_WEIGHTS).log2_table()
    items: list[tuple[float, str]] = []
    fields = [f for f, level in enumerate(levels) if level > 0]
    if levels[_FIRST] == 5 and levels[_LAST] == 3:
        name = f"{_typed(a.first)} {_typed(a.last)}"
        items.append((table[_FIRST, 5] + table[_LAST, 3], f"same name {name}"))
        fields = [f for f in fields if f not in (_FIRST, _LAST)]
    for f in fields:
        items.append((float(table[f, levels[f]]), _field_words(a, b, f, levels[f])))
    if levels[_EMAIL] == 0 and a.emails and b.emails:
        shown = f"{a.emails[0]} / {b.emails[0]}"
        items.append((0.0, f"emails only spell the names, no evidence: {shown}"))
    agree = sorted((item for item in items if item[0] > 0), key=lambda item: -item[0])
    against = sorted((item for item in items if item[0] <= 0), key=lambda item: item[0])
    return tuple(words for _, words in agree + against)
