"""A record as the matcher sees it, and the folding that makes typed text comparable.

Names, street and postcode arrive as typed; ``fold`` (and the street and postcode forms
built on it) turn "José", "JOSE" and "jose" into one value before anything compares them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

__all__ = ["MatchRecord", "fold", "fold_postcode", "fold_street"]


class MatchRecord(NamedTuple):
    """One profile or eCom buyer as the matcher sees it.

    Emails and phones arrive normalised with placeholders removed (``identity`` decides
    what a placeholder is); names, street and postcode arrive as typed and are folded here.
    A NamedTuple (immutable, typed, built several times as fast as a frozen dataclass):
    one per profile and eCom buyer on every full analysis.
    """

    key: str  # "customer:<id>" or "email:<address>"
    first: str = ""
    last: str = ""
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    street: str = ""  # first address line
    postcode: str = ""
    birth_date: str = ""  # ISO date or ""


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
def fold_street(text: str) -> str:
    """A folded street with the usual abbreviations, so "12 Elm Street" = "12 elm st"."""
    return " ".join(_STREET_WORDS.get(word, word) for word in fold(text).split())


_ZIP_PLUS_FOUR = re.compile(r"^(\d{5})\d{4}$")


@lru_cache(maxsize=65536)
def fold_postcode(text: str) -> str:
    """Folded postcode without spaces; a US ZIP+4 keeps its five-digit ZIP."""
    code = fold(text).replace(" ", "")
    plus_four = _ZIP_PLUS_FOUR.match(code)
    return plus_four.group(1) if plus_four else code
