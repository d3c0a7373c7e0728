"""Probable matches beside the exact keys: pairs joined at once, and pairs for staff.

The exact keys (email, phone, code) find most duplicates; what they miss is typed
differently: an email with a typo, a second address, a nickname, a new surname. A full
analysis scores candidate pairs of members across the exact clusters
(:mod:`greenloop.domain.matching`, Fellegi–Sunter with weights estimated from the
store's own data) and sorts them by probability:

* a pair whose first names disagree ("Anna" / "Bob" on one address) is a household,
  two people: it is neither joined nor suggested;
* at or above ``identity.auto_link_probability`` the pair is joined like an exact key
  (its reason says why), unless it rests on a new surname at the same address: a
  marriage is staff's call;
* at or above ``identity.suggest_probability`` it is a suggestion, one per pair of
  persons (their best pair), waiting for staff;
* a pair staff linked or unlinked is never scored again: their word is final.

Placeholders are taken out of the records before scoring, so no suggestion rests on one.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from greenloop.analytics.compute import MemberIndex
from greenloop.analytics.facts import Facts
from greenloop.domain.identity import IdentityRules
from greenloop.domain.matching import (
    LAST,
    MatchRecord,
    ScoredPair,
    Weights,
    names_agree,
    new_last_name,
    score_pairs,
)

__all__ = [
    "Matches",
    "decided_pairs",
    "find_matches",
    "match_reason",
    "match_records",
    "score_across",
    "sort_matches",
]


@dataclass
class Matches:
    auto: list[ScoredPair] = field(default_factory=list)
    suggested: list[ScoredPair] = field(default_factory=list)
    weights: dict[str, Any] | None = None
    candidates: int = 0
    seconds: float = 0.0
    # Taken whole from the last analysis, whose inputs were the same (analytics.match_cache).
    reused: bool = False
    # Records whose pairs were scored (all of them when the weights were learnt; only the
    # changed ones when the last analysis' weights were kept), and whether they were.
    scored_records: int = 0
    weights_learnt: bool = False

    def links(self) -> list[tuple[str, str, str]]:
        return [(p.a, p.b, match_reason(p)) for p in self.auto]

    def keep_apart(self, assignment: Mapping[str, str]) -> None:
        """Drop suggestions the joins made moot, and keep each pair of persons' best."""
        seen: set[tuple[str, str]] = set()
        kept: list[ScoredPair] = []
        for pair in self.suggested:
            left, right = assignment.get(pair.a), assignment.get(pair.b)
            if left is None or right is None or left == right:
                continue
            persons = (min(left, right), max(left, right))
            if persons in seen:
                continue
            seen.add(persons)
            kept.append(pair)
        self.suggested = kept

    def summary(self) -> dict[str, Any]:
        return {
            "auto_links": len(self.auto),
            "suggestions": len(self.suggested),
            "candidate_pairs": self.candidates,
            "seconds": round(self.seconds, 3),
            "reused": self.reused,
            "scored_records": self.scored_records,
            "weights_learnt": self.weights_learnt,
        }


def match_reason(pair: ScoredPair) -> str:
    words = "; ".join(pair.evidence[:3])
    return f"match {pair.probability:.4f}: {words}" if words else f"match {pair.probability:.4f}"


def _split(name: str) -> tuple[str, str]:
    parts = name.split()
    if not parts:
        return "", ""
    return parts[0], " ".join(parts[1:])


def match_records(facts: Facts, index: MemberIndex) -> list[MatchRecord]:
    """Profiles and eCom buyers as matching sees them, placeholders taken out."""
    fake_emails, fake_phones = index.placeholders.emails, index.placeholders.phones
    records: list[MatchRecord] = []
    for member in index.members:
        kind, _, ident = member.key.partition(":")
        emails = tuple(e for e in member.emails if e not in fake_emails)
        phones = tuple(p for p in member.phones if p not in fake_phones)
        if kind == "customer":
            profile = facts.profiles.get(ident)
            if profile is None:
                continue
            first, last = profile.first_name, profile.last_name
            if not first and not last and profile.name != "Unknown":
                first, last = _split(profile.name)
            records.append(
                MatchRecord(
                    member.key,
                    first,
                    last,
                    emails,
                    phones,
                    profile.street,
                    profile.postcode,
                    profile.birth_date,
                )
            )
        elif kind == "email":
            names = {
                facts.order_names[raw]
                for raw in index.raw_emails.get(member.key, ())
                if facts.order_names.get(raw)
            }
            first, last = _split(sorted(names)[0]) if len(names) == 1 else ("", "")
            records.append(MatchRecord(member.key, first, last, emails, phones))
        # order:<n> members are orders under a placeholder email: nothing to match on.
    return records


def decided_pairs(facts: Facts) -> set[tuple[str, str]]:
    """The pairs staff linked or unlinked, each as (smaller key, larger key)."""
    return {(min(a, b), max(a, b)) for a, b in [*facts.manual_links, *facts.manual_unlinks]}


def _new_surname(pair: ScoredPair, by_key: Mapping[str, MatchRecord]) -> bool:
    """Did the scoring set a changed surname aside (``matching.levels.new_surname``)?"""
    return pair.levels[LAST] == 0 and new_last_name(by_key[pair.a], by_key[pair.b])


def score_across(
    records: Sequence[MatchRecord],
    clusters: Sequence[Sequence[str]],
    decided: Collection[tuple[str, str]],
    rules: IdentityRules,
    *,
    weights: Weights | None = None,
    touching: Collection[str] | None = None,
) -> tuple[list[ScoredPair], Weights]:
    """Pairs at or above the suggestion threshold that cross the exact clusters and that
    staff have not decided, best first, and the weights (learnt unless given).
    ``touching``: only the pairs with a record of these keys (see ``score_pairs``)."""
    cluster_of = {key: at for at, members in enumerate(clusters) for key in members}

    def skip(a: str, b: str) -> bool:
        return cluster_of.get(a) == cluster_of.get(b) or (a, b) in decided

    return score_pairs(
        records,
        skip=skip,
        min_probability=rules.suggest_probability,
        weights=weights,
        touching=touching,
    )


def sort_matches(
    scored: Sequence[ScoredPair],
    records: Sequence[MatchRecord],
    rules: IdentityRules,
    weights: Weights,
) -> Matches:
    """Scored pairs as joins and suggestions; see the module docstring."""
    by_key = {r.key: r for r in records}
    matches = Matches(weights=weights.as_json(), candidates=len(scored))
    for pair in scored:
        if not names_agree(by_key[pair.a].first, by_key[pair.b].first):
            continue  # a household: two people, however much else they share
        if pair.probability >= rules.auto_link_probability and not _new_surname(pair, by_key):
            matches.auto.append(pair)
        else:
            matches.suggested.append(pair)
    return matches


def find_matches(
    facts: Facts,
    index: MemberIndex,
    clusters: Sequence[Sequence[str]],
    rules: IdentityRules,
) -> Matches:
    """Score every pair across the exact clusters; see the module docstring."""
    if not rules.suggestions:
        return Matches()
    began = time.perf_counter()
    records = match_records(facts, index)
    scored, weights = score_across(records, clusters, decided_pairs(facts), rules)
    matches = sort_matches(scored, records, rules, weights)
    matches.scored_records, matches.weights_learnt = len(records), True
    matches.seconds = time.perf_counter() - began
    return matches
