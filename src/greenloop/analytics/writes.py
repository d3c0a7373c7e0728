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

__all__ = ["WritePlan", "placeholder_uses", "plan_writes"]


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


def plan_writes(results: Sequence[Outcome], previous: Mapping[str, repo.Stored]) -> WritePlan:
    """Each computed person against its stored digest (:func:`~analytics_repo.row_hash`)."""
    plan = WritePlan()
    for result in results:
        digest = repo.row_hash(result.row, result.digest)
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
    plan.vanished = set(previous) - {r.row["id"] for r in results}
    return plan


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
