"""The last full analysis' match scoring, reused while its inputs are unchanged.

Scoring candidate pairs is a third of a full analysis on a large store (15 s of 50 on
200,000 profiles), and a day's sales change none of its inputs: the match records
(names, emails, phones, addresses), the exact clusters the pairs must cross, staff's
decisions, the identity rules, and the scoring code itself (its weights are estimated
from the records with a fixed seed, so the same inputs give the same pairs). A digest of
all of them is kept beside the pairs found; the next analysis whose digest is the same
takes those pairs instead of scoring again, and any difference scores again.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from greenloop.analytics.compute import MemberIndex
from greenloop.analytics.facts import Facts
from greenloop.analytics.matches import Matches, find_matches, match_records
from greenloop.domain.identity import IdentityRules
from greenloop.domain.matching import MatchRecord, ScoredPair
from greenloop.store.service_state import put_value, read_value

__all__ = ["CACHE_NAME", "MatchFinder"]

CACHE_NAME = "analyze.match_cache"
_FORMAT = 1


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


def inputs_digest(
    records: Sequence[MatchRecord],
    clusters: Sequence[Sequence[str]],
    decided: Sequence[tuple[str, str]],
    rules: IdentityRules,
) -> str:
    digest = hashlib.sha256(f"{_FORMAT}:{_code_digest()}".encode())
    digest.update(json.dumps(asdict(rules), sort_keys=True).encode())
    for record in records:
        digest.update(repr(astuple_of(record)).encode())
    digest.update(b"\x00clusters")
    for members in clusters:
        digest.update("\x1f".join(members).encode())
        digest.update(b"\x1e")
    digest.update(repr(sorted(decided)).encode())
    return digest.hexdigest()


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


def _pair_json(pair: ScoredPair) -> list[Any]:
    return [pair.a, pair.b, pair.score, pair.probability, list(pair.levels), list(pair.evidence)]


def _pair(item: list[Any]) -> ScoredPair:
    a, b, score, probability, levels, evidence = item
    return ScoredPair(a, b, float(score), float(probability), tuple(levels), tuple(evidence))


def _dumps(digest: str, matches: Matches) -> str:
    return json.dumps(
        {
            "digest": digest,
            "auto": [_pair_json(p) for p in matches.auto],
            "suggested": [_pair_json(p) for p in matches.suggested],
            "weights": matches.weights,
            "candidates": matches.candidates,
        },
        separators=(",", ":"),
    )


def _loads(text: str | None, digest: str) -> Matches | None:
    """The stored pairs when they were found from these very inputs, else None."""
    if not text:
        return None
    try:
        stored = json.loads(text)
        if stored.get("digest") != digest:
            return None
        return Matches(
            auto=[_pair(p) for p in stored["auto"]],
            suggested=[_pair(p) for p in stored["suggested"]],
            weights=stored.get("weights"),
            candidates=int(stored.get("candidates", 0)),
            reused=True,
        )
    except (ValueError, KeyError, TypeError):
        return None  # written by another version, or damaged: score again


@dataclass
class MatchFinder:
    """:func:`find_matches` that takes the last analysis' pairs when their inputs are the
    same. ``stored`` is the cache's text as read before the analysis; ``fresh`` the text
    to keep once the analysis commits (None when nothing changed)."""

    stored: str | None
    fresh: str | None = None

    @classmethod
    def read(cls, conn: Connection) -> MatchFinder:
        return cls(read_value(conn, CACHE_NAME))

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
        records = match_records(facts, index)
        decided = [*facts.manual_links, *facts.manual_unlinks]
        digest = inputs_digest(records, clusters, decided, rules)
        reused = _loads(self.stored, digest)
        if reused is not None:
            reused.seconds = time.perf_counter() - began
            return reused
        found = find_matches(facts, index, clusters, rules, records=records)
        self.fresh = _dumps(digest, found)
        return found

    def keep(self, conn: Connection) -> None:
        """Store the pairs just found, in the analysis' own transaction."""
        if self.fresh is not None:
            put_value(conn, CACHE_NAME, self.fresh)
