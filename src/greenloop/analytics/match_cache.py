"""The last analysis' match scoring, kept so that the next scores only what changed.

Scoring every candidate pair is a third of a first analysis on a large store (12 s on
200,000 profiles: 6 million candidate pairs compared, weights learnt by EM), while a day
changes few of its inputs. Kept beside the pairs found: the weights they were scored
with and when those were learnt, a digest of each match record together with its exact
cluster, the pairs staff decided, and a digest of the rest (the identity rules and the
scoring code itself).

The next analysis compares. A record is *changed* when it is new, when its names,
emails, phones, address or birth date changed, when its exact cluster gained or lost a
member, or when staff decided a pair it is in. Then:

* nothing changed: the kept pairs are taken whole (``reused``);
* a few records changed: their candidate pairs are scored with the kept weights and
  replace every kept pair they are in; the pairs between unchanged records stay as
  scored (both ends' records and clusters are the same, so their comparison is);
* the rules or the code changed, the weights are ``match_weights_days`` old, more than
  :data:`RELEARN_ABOVE_SHARE` of the records changed, or nothing usable is kept: the
  weights are learnt again and every pair is scored.

Between two learnings a kept pair's score still rests on the names' frequencies and the
blocks of its day; the weekly learning (the daily job runs every day) brings them up to
date, as it does the weights.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection

from greenloop.analytics.compute import MemberIndex
from greenloop.analytics.facts import Facts
from greenloop.analytics.matches import (
    Matches,
    decided_pairs,
    find_matches,
    match_records,
    score_across,
    sort_matches,
)
from greenloop.domain.identity import IdentityRules
from greenloop.domain.matching import MatchRecord, ScoredPair, Weights
from greenloop.store.service_state import put_value, read_value

__all__ = ["CACHE_NAME", "RELEARN_ABOVE_SHARE", "MatchFinder"]

CACHE_NAME = "analyze.match_cache"
_FORMAT = 3

# Past this share of changed records the weights are learnt again: a store that changed
# this much may no longer look like the one they were learnt from, and scoring a
# twentieth of the pairs saves little over scoring them all.
RELEARN_ABOVE_SHARE = 0.05


@cache
def _code_digest() -> str:
    """The scoring code's own fingerprint: a changed rule or weight scores again."""
    analytics = Path(__file__).resolve().parent
    files = sorted((analytics.parent / "domain" / "matching").glob("*.py"))
    files += [analytics / "matches.py", analytics / "match_cache.py"]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def rules_digest(rules: IdentityRules) -> str:
    digest = hashlib.sha256(f"{_FORMAT}:{_code_digest()}".encode())
    digest.update(json.dumps(asdict(rules), sort_keys=True).encode())
    return digest.hexdigest()


# MessagePack keeps types apart at half of repr's cost (every record, every analysis).
_pack = msgspec.msgpack.Encoder().encode


def astuple_of(record: MatchRecord) -> tuple[Any, ...]:
    return (
        record.key,
        record.first,
        record.last,
        record.emails,
        record.phones,
        record.street,
        record.postcode,
        record.birth_date,
    )


def record_digests(
    records: Sequence[MatchRecord], clusters: Sequence[Sequence[str]]
) -> dict[str, int]:
    """Each record's 64-bit digest, of its key, its fields and its exact cluster's
    members: a pair is skipped when its two records share a cluster, so a record whose
    cluster changed is scored again even when the record itself did not change. A record
    alone in its cluster has no cluster part (its key is in its fields already): most
    records are alone, and a digest of each one's cluster cost a third of the whole."""
    of_cluster: dict[str, bytes] = {}
    for members in clusters:
        if len(members) > 1:
            joined = "\x1f".join(sorted(members)).encode()
            cluster_digest = hashlib.blake2b(joined, digest_size=8).digest()
            for key in members:
                of_cluster[key] = cluster_digest
    alone = b""
    blake2b, pack, from_bytes = hashlib.blake2b, _pack, int.from_bytes
    return {
        record.key: from_bytes(
            blake2b(
                pack(astuple_of(record)) + of_cluster.get(record.key, alone), digest_size=8
            ).digest(),
            "little",
        )
        for record in records
    }


def _pair_json(pair: ScoredPair) -> list[Any]:
    return [pair.a, pair.b, pair.score, pair.probability, list(pair.levels), list(pair.evidence)]


def _pair(item: list[Any]) -> ScoredPair:
    a, b, score, probability, levels, evidence = item
    return ScoredPair(
        str(a), str(b), float(score), float(probability), tuple(levels), tuple(evidence)
    )


@dataclass(frozen=True)
class Kept:
    """What the last analysis scored, as stored."""

    rules: str
    learnt_at: datetime
    weights: Weights
    # The records' digests (:func:`record_digests`), sorted: the key is inside each, so
    # the keys themselves (three quarters of the size) are not kept.
    records: npt.NDArray[np.uint64]
    decided: set[tuple[str, str]]
    pairs: list[ScoredPair]

    @staticmethod
    def digests_of(digests: Mapping[str, int]) -> npt.NDArray[np.uint64]:
        return np.sort(np.fromiter(digests.values(), np.uint64, len(digests)))

    def dumps(self) -> str:
        return json.dumps(
            {
                "format": _FORMAT,
                "rules": self.rules,
                "learnt_at": self.learnt_at.isoformat(),
                "weights": self.weights.as_json(),
                "records": base64.b64encode(self.records.astype("<u8").tobytes()).decode(),
                "decided": sorted(self.decided),
                "pairs": [_pair_json(p) for p in self.pairs],
            },
            separators=(",", ":"),
        )

    @classmethod
    def loads(cls, text: str | None) -> Kept | None:
        """The stored scoring, or None when there is none or it cannot be trusted."""
        if not text:
            return None
        try:
            stored = json.loads(text)
            if stored.get("format") != _FORMAT:
                return None  # written by another version: learn and score again
            learnt_at = datetime.fromisoformat(stored["learnt_at"])
            if learnt_at.tzinfo is None:
                return None
            packed = base64.b64decode(stored["records"], validate=True)
            records = np.frombuffer(packed, "<u8").astype(np.uint64)
            return cls(
                rules=str(stored["rules"]),
                learnt_at=learnt_at,
                weights=Weights.from_json(stored["weights"]),
                records=records,
                decided={(str(a), str(b)) for a, b in stored["decided"]},
                pairs=[_pair(p) for p in stored["pairs"]],
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None  # damaged: learn and score again


def changed_records(
    kept: Kept, digests: Mapping[str, int], decided: set[tuple[str, str]]
) -> tuple[set[str], bool]:
    """The records to score again (new, changed, or in a pair staff decided or undid),
    and whether a kept record is gone (or changed: its old digest is no longer found)."""
    keys = list(digests)
    values = np.fromiter(digests.values(), np.uint64, len(keys))
    found = np.isin(values, kept.records)
    changed = {keys[at] for at in np.flatnonzero(~found).tolist()}
    for a, b in decided ^ kept.decided:
        changed.update((a, b))
    gone = int(found.sum()) < len(kept.records)
    return changed & digests.keys(), gone


@dataclass(frozen=True)
class _Scoring:
    """What this analysis scores: the records, their exact clusters, staff's decided
    pairs and the rules (with their digest)."""

    records: list[MatchRecord]
    clusters: Sequence[Sequence[str]]
    decided: set[tuple[str, str]]
    rules: IdentityRules
    rules_digest: str


@dataclass
class MatchFinder:
    """:func:`find_matches` that scores only what changed since the last analysis (see
    the module docstring). ``stored`` is the kept text as read before the analysis;
    ``fresh`` the text to keep once the analysis commits (None when nothing changed)."""

    stored: str | None
    now: datetime
    weights_days: int = 7
    fresh: str | None = None

    @classmethod
    def read(cls, conn: Connection, now: datetime, weights_days: int = 7) -> MatchFinder:
        return cls(read_value(conn, CACHE_NAME), now, weights_days)

    def __call__(
        self,
        facts: Facts,
        index: MemberIndex,
        clusters: Sequence[Sequence[str]],
        rules: IdentityRules,
    ) -> Matches:
        if not rules.suggestions:
            return find_matches(facts, index, clusters, rules)
        began = time.perf_counter()
        scoring = _Scoring(
            match_records(facts, index), clusters, decided_pairs(facts), rules, rules_digest(rules)
        )
        digests = record_digests(scoring.records, clusters)
        kept = Kept.loads(self.stored)
        matches: Matches | None = None
        if kept is not None and kept.rules == scoring.rules_digest and self._recent(kept.learnt_at):
            changed, gone = changed_records(kept, digests, scoring.decided)
            if not changed and not gone:
                matches = sort_matches(kept.pairs, scoring.records, rules, kept.weights)
                matches.reused = True
            elif len(changed) <= RELEARN_ABOVE_SHARE * len(scoring.records):
                matches = self._score_changed(scoring, kept, digests, changed)
        if matches is None:
            matches = self._score_all(scoring, digests)
        matches.seconds = time.perf_counter() - began
        return matches

    def _score_changed(
        self, scoring: _Scoring, kept: Kept, digests: dict[str, int], changed: set[str]
    ) -> Matches:
        """The changed records' pairs scored with the kept weights, the rest as kept."""
        rescored, _ = score_across(
            scoring.records,
            scoring.clusters,
            scoring.decided,
            scoring.rules,
            weights=kept.weights,
            touching=changed,
        )
        unchanged = [
            pair
            for pair in kept.pairs
            if pair.a in digests
            and pair.b in digests
            and pair.a not in changed
            and pair.b not in changed
        ]
        pairs = sorted([*unchanged, *rescored], key=lambda p: (-p.score, p.a, p.b))
        records = Kept.digests_of(digests)
        kept_now = Kept(
            scoring.rules_digest, kept.learnt_at, kept.weights, records, scoring.decided, pairs
        )
        self.fresh = kept_now.dumps()
        matches = sort_matches(pairs, scoring.records, scoring.rules, kept.weights)
        matches.scored_records = len(changed)
        return matches

    def _score_all(self, scoring: _Scoring, digests: dict[str, int]) -> Matches:
        """Weights learnt again, every pair scored."""
        pairs, weights = score_across(
            scoring.records, scoring.clusters, scoring.decided, scoring.rules
        )
        records = Kept.digests_of(digests)
        self.fresh = Kept(
            scoring.rules_digest, self.now, weights, records, scoring.decided, pairs
        ).dumps()
        matches = sort_matches(pairs, scoring.records, scoring.rules, weights)
        matches.scored_records, matches.weights_learnt = len(scoring.records), True
        return matches

    def _recent(self, learnt_at: datetime) -> bool:
        # A clock set back (an analysis --now in the past) learns again too.
        age = self.now - learnt_at
        return timedelta(0) <= age < timedelta(days=self.weights_days)

    def keep(self, conn: Connection) -> None:
        """Store the scoring just done, in the analysis' own transaction."""
        if self.fresh is not None:
            put_value(conn, CACHE_NAME, self.fresh)
