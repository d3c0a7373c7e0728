"""Who is who: identity members clustered into persons under stable ids.

The one sequence a full analysis and a one-person recompute both follow (members →
clusters → ids), and the purchases grouped by the person they belong to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from greenloop.analytics.compute import MemberIndex, build_members, member_of
from greenloop.analytics.facts import Facts
from greenloop.analytics.matches import Matches, find_matches
from greenloop.analytics.options import new_person_id
from greenloop.domain.identity import (
    IdentityRules,
    Link,
    Placeholders,
    cluster,
    stable_person_ids,
)
from greenloop.domain.purchases import Purchase

__all__ = ["People", "cluster_people", "group_purchases"]


@dataclass
class People:
    index: MemberIndex
    clusters: list[list[str]]
    links: list[Link]
    # member key → person id
    assignment: dict[str, str]
    # Pairs a match score joined or suggests (a full analysis only).
    matches: Matches | None = None


def cluster_people(
    facts: Facts,
    rules: IdentityRules,
    previous: Mapping[str, str],
    *,
    known: Placeholders | None = None,
    leave_out: Collection[str] = (),
    match: bool = False,
    find: Callable[[Facts, MemberIndex, Sequence[Sequence[str]], IdentityRules], Matches] = (
        find_matches
    ),
) -> People:
    """Cluster the facts' members, reusing ``previous`` person ids (member key → id).

    ``known``: placeholders found by the last full run (a one-person recompute sees too
    little to find them itself). ``leave_out``: member keys that belong elsewhere.
    ``match``: score pairs across the exact clusters (a full analysis); otherwise the
    pairs the last full analysis joined (``facts.matched_links``) are kept. ``find``
    scores them (:class:`~greenloop.analytics.match_cache.MatchFinder` reuses the last
    analysis' pairs when nothing they rest on changed)."""
    index = build_members(facts, rules, known)
    if leave_out:
        index.members = [m for m in index.members if m.key not in leave_out]

    def clustered(matched: list[tuple[str, str, str]]) -> tuple[list[list[str]], list[Link]]:
        return cluster(
            index.members,
            rules,
            manual_links=facts.manual_links,
            manual_unlinks=facts.manual_unlinks,
            placeholders=index.placeholders,
            matched_links=[*index.twin_links, *matched],
        )

    matches: Matches | None = None
    if match:
        clusters, links = clustered([])
        matches = find(facts, index, clusters, rules)
        if matches.auto:
            clusters, links = clustered(matches.links())
    else:
        clusters, links = clustered(facts.matched_links)
    assignment = stable_person_ids(clusters, previous, new_person_id)
    if matches is not None:
        matches.keep_apart(assignment)
    return People(index, clusters, links, assignment, matches)


def group_purchases(
    facts: Facts, index: MemberIndex, assignment: Mapping[str, str], rules: IdentityRules
) -> tuple[dict[str, list[Purchase]], int]:
    """Each person's purchases, and the number that belong to nobody (walk-ins)."""
    by_person: dict[str, list[Purchase]] = defaultdict(list)
    unattributed = 0
    for purchase in facts.purchases:
        key = member_of(purchase, facts, index, rules)
        pid = assignment.get(key) if key is not None else None
        if pid is None:
            unattributed += 1
            continue
        by_person[pid].append(purchase)
    return by_person, unattributed
