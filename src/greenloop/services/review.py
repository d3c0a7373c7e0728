"""The review queue: suggested identity matches, and staff's decisions on them.

A suggestion is a pair of members (profiles or eCom buyers) a full analysis scored as
probably one person but not surely (:mod:`greenloop.analytics.matches`). Staff accept
(the pair is linked, the person recomputed at once with the history saying "profiles
joined by staff", and the group change pushed), reject (the pair is unlinked: never
joined by any rule and never suggested again) or skip it (to the end of the queue).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Engine

from greenloop.analytics.overrides import set_override
from greenloop.analytics.recompute import RecomputeResult, recompute_customer
from greenloop.config import Settings
from greenloop.errors import GreenLoopError, NotFound
from greenloop.services.analysis import analyze_options
from greenloop.services.push import push_customers
from greenloop.services.setup import open_engine
from greenloop.services.tokens import lightspeed_client
from greenloop.store import matches_repo

__all__ = ["JOINED_BY_STAFF", "Decision", "decide", "review_queue"]

log = logging.getLogger(__name__)

JOINED_BY_STAFF = "profiles joined by staff"
Action = Literal["accept", "reject", "skip"]


@contextmanager
def _engine(settings: Settings, engine: Engine | None) -> Iterator[Engine]:
    if engine is not None:
        yield engine
        return
    own = open_engine(settings)
    try:
        yield own
    finally:
        own.dispose()


def _customers(*keys: str) -> list[str]:
    return [k.removeprefix("customer:") for k in keys if k.startswith("customer:")]


def _others(*keys: str) -> list[str]:
    return [k for k in keys if not k.startswith("customer:")]


def review_queue(
    settings: Settings,
    *,
    limit: int = 20,
    offset: int = 0,
    details: bool = True,
    engine: Engine | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Suggestions best first, each with both sides, the tiers now and if joined."""
    moment = now or datetime.now(UTC)
    with _engine(settings, engine) as db:
        with db.connect() as conn:
            total = matches_repo.count_suggestions(conn)
            rows = matches_repo.read_suggestions(conn, limit, offset)
            sides = matches_repo.member_sides(conn, [k for r in rows for k in (r["a"], r["b"])])
        items = []
        for row in rows:
            item = {
                "a": row["a"],
                "b": row["b"],
                "probability": round(float(row["probability"]), 4),
                "evidence": list(row["evidence"]),
                "skipped": row["skipped_at"] is not None,
                "sides": [
                    sides.get(row["a"], {"key": row["a"]}),
                    sides.get(row["b"], {"key": row["b"]}),
                ],
            }
            if details:
                item["tier_if_joined"] = _tier_if_joined(settings, db, row["a"], row["b"], moment)
            items.append(item)
    return {"total": total, "offset": offset, "suggestions": items}


def _tier_if_joined(settings: Settings, engine: Engine, a: str, b: str, now: datetime) -> Any:
    result = recompute_customer(
        engine,
        analyze_options(settings),
        _customers(a, b),
        now,
        members=_others(a, b),
        join=(a, b),
    )
    person = result.assignment.get(a)
    return result.tiers.get(person) if person is not None else None


@dataclass
class Decision:
    action: Action
    a: str
    b: str
    recomputed: RecomputeResult | None = None
    pushed: bool = False
    push_note: str = ""
    remaining: int = 0
    tier: str | None = None
    tier_changes: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "a": self.a,
            "b": self.b,
            "tier": self.tier,
            "tier_changes": [{"person_id": p, "from": f, "to": t} for p, f, t in self.tier_changes],
            "pushed": self.pushed,
            "push_note": self.push_note,
            "remaining": self.remaining,
        }


def decide(
    settings: Settings,
    a: str,
    b: str,
    action: Action,
    *,
    note: str = "",
    push: bool = True,
    engine: Engine | None = None,
    now: datetime | None = None,
) -> Decision:
    """Record staff's word on a suggestion; see the module docstring."""
    moment = now or datetime.now(UTC)
    a, b = sorted((a, b))
    decision = Decision(action, a, b)
    with _engine(settings, engine) as db:
        with db.begin() as conn:
            found = matches_repo.find_pair(conn, a, b)
            if found is None or found["kind"] != "suggested":
                raise NotFound(
                    f"no suggestion for {a} and {b}",
                    hint="It may have been decided already, or a newer analysis dropped it: "
                    "reload the queue (`greenloop customers suggestions`).",
                )
            if action == "skip":
                matches_repo.skip_pair(conn, a, b, moment)
            elif not matches_repo.drop_pair(conn, a, b):
                # Another reviewer decided it between our read and now: theirs stands.
                raise NotFound(f"the suggestion for {a} and {b} was just decided by someone else")
            else:
                word = "link" if action == "accept" else "unlink"
                why = note or f"{'accepted' if action == 'accept' else 'rejected'} suggestion"
                set_override(conn, a, b, word, moment, f"{why}: {found['reason']}")
        if action != "skip":
            result = recompute_customer(
                db,
                analyze_options(settings),
                _customers(a, b),
                moment,
                members=_others(a, b),
                cause=JOINED_BY_STAFF if action == "accept" else "profiles kept apart by staff",
            )
            decision.recomputed = result
            decision.tier_changes = result.tier_changes
            person = result.assignment.get(a)
            decision.tier = result.tiers.get(person) if person is not None else None
            if push and action == "accept":
                _push(settings, db, result, decision)
        with db.connect() as conn:
            decision.remaining = matches_repo.count_suggestions(conn)
    return decision


def _push(settings: Settings, engine: Engine, result: RecomputeResult, decision: Decision) -> None:
    customers = _customers(*result.assignment)
    if not customers:
        return
    try:
        client = lightspeed_client(settings, engine=engine)
    except GreenLoopError as exc:
        decision.push_note = f"not pushed ({exc.message}); the daily push will move them"
        return
    try:
        report = push_customers(settings, customers, client=client, engine=engine)
    except GreenLoopError as exc:
        decision.push_note = f"not pushed ({exc.message}); the daily push will move them"
        log.warning("review push: %s", exc.message)
        return
    finally:
        client.close()
    decision.pushed = report.ok
    decision.push_note = "" if report.ok else (report.error or report.outcome or "")
