"""What a full analysis writes of the persons it computed: their differences from the
stored rows, and the uses of each placeholder value."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from greenloop.analytics.compute import MemberIndex
from greenloop.analytics.outcome import Outcome
from greenloop.store import analytics_repo as repo

__all__ = ["WritePlan", "full_rewrites", "placeholder_uses", "plan_writes", "vanished_persons"]


@dataclass
class WritePlan:
    """Rows to write whole, rows to write only the late columns of, persons to delete."""

    full_rows: list[dict[str, Any]] = field(default_factory=list)
    full_hashes: list[str] = field(default_factory=list)
    # Persons whose only change is in the columns known once everyone is computed (risk,
    # predictions): most of a day's changes, since a day's ageing moves nearly
    # everyone's predictions.
    late_rows: list[dict[str, Any]] = field(default_factory=list)
    late_hashes: list[str] = field(default_factory=list)
    late_stored: list[str] = field(default_factory=list)  # the digests compared with
    vanished: set[str] = field(default_factory=set)

    @property
    def rows_written(self) -> int:
        return len(self.full_rows) + len(self.late_rows) + len(self.vanished)


def plan_writes(
    results: Sequence[Outcome],
    previous: Mapping[str, repo.Stored],
    digests: Sequence[str] | None = None,
) -> WritePlan:
    """Each computed person against its stored digest (:func:`~analytics_repo.row_hash`;
    ``digests``: the results' own, when already taken)."""
    plan = WritePlan()
    if digests is None:
        digests = [repo.row_hash(r.row, r.digest) for r in results]
    for result, digest in zip(results, digests, strict=True):
        stored = previous.get(result.row["id"])
        was = stored.row_hash if stored is not None else None
        if was == digest:
            continue
        if was is not None and repo.early_unchanged(was, result.digest):
            plan.late_rows.append(result.row)
            plan.late_hashes.append(digest)
            plan.late_stored.append(was)
        else:
            plan.full_rows.append(result.row)
            plan.full_hashes.append(digest)
    plan.vanished = vanished_persons(results, previous)
    return plan


def vanished_persons(results: Sequence[Outcome], previous: Mapping[str, repo.Stored]) -> set[str]:
    """The stored persons no longer computed (their members went to others, or away)."""
    return set(previous) - {r.row["id"] for r in results}


def full_rewrites(results: Sequence[Outcome], previous: Mapping[str, repo.Stored]) -> int:
    """How many rows :func:`plan_writes` will write whole: known before the predictions,
    since a row is written whole exactly when its columns but the late ones changed."""
    count = 0
    for result in results:
        stored = previous.get(result.row["id"])
        if stored is None or not repo.early_unchanged(stored.row_hash, result.digest):
            count += 1
    return count


def placeholder_uses(index: MemberIndex) -> Counter[tuple[str, str]]:
    """How many identity members carry each placeholder email and phone (only those
    are recorded: counting every value cost a second on a large store)."""
    emails, phones = index.placeholders.emails, index.placeholders.phones
    uses: Counter[tuple[str, str]] = Counter()
    for member in index.members:
        for email in member.emails:
            if email in emails:
                uses["email", email] += 1
        for phone in member.phones:
            if phone in phones:
                uses["phone", phone] += 1
    return uses
