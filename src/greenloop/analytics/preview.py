"""``greenloop tiers preview``: everyone under another program, nothing written."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from greenloop.analytics.options import AnalyzeOptions
from greenloop.analytics.run import compute_all
from greenloop.domain.tiers import Program

__all__ = ["Preview", "preview_program"]

NONE = "(none)"


@dataclass
class Preview:
    persons: int
    moves: int
    matrix: dict[str, dict[str, int]] = field(default_factory=dict)
    movers: list[dict[str, Any]] = field(default_factory=list)
    counts_now: dict[str, int] = field(default_factory=dict)
    counts_then: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "persons": self.persons,
            "moves": self.moves,
            "matrix": self.matrix,
            "counts_now": self.counts_now,
            "counts_with_program": self.counts_then,
            "movers": self.movers,
        }


def preview_program(
    engine: Engine, options: AnalyzeOptions, program: Program, now: datetime
) -> Preview:
    """Who would be in which tier under ``program`` (with each person's current tier
    state and the program's downgrade policy), against the tiers stored now."""
    computed = compute_all(engine, replace(options, program=program, predictions=False), now)
    matrix: dict[str, Counter[str]] = {}
    movers = []
    now_counts: Counter[str] = Counter()
    then_counts: Counter[str] = Counter()
    for result in computed.results:
        pid = result.row["id"]
        stored = computed.previous.get(pid)
        before = (stored.tier if stored else None) or NONE
        after = result.row["tier"] or NONE
        now_counts[before] += 1
        then_counts[after] += 1
        matrix.setdefault(before, Counter())[after] += 1
        if before != after:
            movers.append(
                {
                    "person_id": pid,
                    "name": result.row["name"],
                    "from": before,
                    "to": after,
                    "reasons": result.row["reasons"],
                }
            )
    movers.sort(key=lambda m: (m["from"], m["to"], m["name"] or "", m["person_id"]))
    return Preview(
        persons=len(computed.results),
        moves=len(movers),
        matrix={k: dict(sorted(v.items())) for k, v in sorted(matrix.items())},
        movers=movers,
        counts_now=dict(sorted(now_counts.items())),
        counts_then=dict(sorted(then_counts.items())),
    )
