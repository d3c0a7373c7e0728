"""Probable duplicates: Fellegi–Sunter match scoring with weights learnt from the store.

``identity.cluster`` joins profiles only through an exact shared key (email, phone,
customer code). The people it cannot join are the ones staff care about: "Bob Smith,
bob.smith@gmial.com" typed at the till and "Robert Smith, bob.smith@gmail.com" ordering
online; "Anna Smith" who became "Anna Jones" but kept her phone. This package scores such
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
compared, a key held by more than ``max_block`` records is skipped as no evidence, and
each kind of key yields at most about ``PAIRS_PER_RECORD`` pairs a record (the smallest
blocks first).
Comparison runs column-wise on interned ids with rapidfuzz's C scorers over whole arrays,
so 200,000 records score in seconds; ``compare`` is the plain per-pair reference the fast
path is tested against.

One module per step, each importing only the ones listed before it: :mod:`.fields`
(the fields, their levels, shared array types), :mod:`.records` (``MatchRecord`` and
folding), :mod:`.levels` (per-pair levels, ``compare``, ``names_agree``),
:mod:`.prepared` (records as interned id columns), :mod:`.columns` (levels for many
pairs at once), :mod:`.blocking` (candidate pairs), :mod:`.weights` (``Weights`` and the
defaults), :mod:`.estimate` (m, u and the prior learnt by EM), :mod:`.evidence` (the
words for staff) and :mod:`.scoring` (``score_pairs``).

Pure: rapidfuzz and numpy are computation libraries; nothing does I/O.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from greenloop.domain.matching.blocking import candidate_pairs
    from greenloop.domain.matching.estimate import estimate_weights
    from greenloop.domain.matching.evidence import new_last_name
    from greenloop.domain.matching.fields import FIELDS, LAST, LEVEL_NAMES
    from greenloop.domain.matching.levels import compare, names_agree
    from greenloop.domain.matching.records import MatchRecord, fold
    from greenloop.domain.matching.scoring import ScoredPair, score_pairs
    from greenloop.domain.matching.weights import DEFAULT_WEIGHTS, Weights

# Where each public name lives. The package loads a step only when one of its names is
# first used: ``names_agree`` (wanted by every one-person lookup) must not bring numpy,
# the blocking and the EM along with it. The ``evidence`` function is imported from its
# module (``matching.evidence``): a package attribute of that name is the module itself.
_HOMES = {
    "candidate_pairs": "blocking",
    "estimate_weights": "estimate",
    "new_last_name": "evidence",
    "FIELDS": "fields",
    "LAST": "fields",
    "LEVEL_NAMES": "fields",
    "compare": "levels",
    "names_agree": "levels",
    "MatchRecord": "records",
    "fold": "records",
    "ScoredPair": "scoring",
    "score_pairs": "scoring",
    "DEFAULT_WEIGHTS": "weights",
    "Weights": "weights",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)


__all__ = [
    "DEFAULT_WEIGHTS",
    "FIELDS",
    "LAST",
    "LEVEL_NAMES",
    "MatchRecord",
    "ScoredPair",
    "Weights",
    "candidate_pairs",
    "compare",
    "estimate_weights",
    "fold",
    "names_agree",
    "new_last_name",
    "score_pairs",
]
