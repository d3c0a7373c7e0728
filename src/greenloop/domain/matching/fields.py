"""The fields compared, what each agreement level means, and the numbers every step shares.

Every step of the matcher speaks in these terms: a pair's comparison is one level per
field of ``FIELDS`` (index = level, see ``LEVEL_NAMES``), and the column-wise steps pass
numpy arrays of the types named here.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "ADDRESS",
    "BIRTH",
    "EMAIL",
    "FIELDS",
    "FIRST",
    "FLOOR",
    "LAST",
    "LEVEL_COUNTS",
    "LEVEL_NAMES",
    "PHONE",
    "BoolArray",
    "FloatArray",
    "IntArray",
    "LevelArray",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
LevelArray = npt.NDArray[np.int8]
BoolArray = npt.NDArray[np.bool_]

FIELDS: tuple[str, ...] = ("first", "last", "email", "phone", "address", "birth_date")
FIRST, LAST, EMAIL, PHONE, ADDRESS, BIRTH = range(len(FIELDS))

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
LEVEL_COUNTS = tuple(len(names) for names in LEVEL_NAMES)

# The smallest probability (and name share) the model uses: m and u are kept within
# [1e-4, 1 - 1e-4] so no single level decides alone.
FLOOR = 1e-4
