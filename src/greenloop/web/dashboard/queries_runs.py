"""What ran last and when, for the overview: the daily job, analyses, runs grouped into goes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from greenloop.store import tables as t
from greenloop.web.dashboard.json_values import iso

__all__ = ["RUN_GAP", "analyze_run", "daily_run", "last_runs"]


def daily_run(conn: Connection) -> dict[str, Any] | None:
    j = t.job_runs.c
    row = conn.execute(
        select(j.id, j.job, j.started_at, j.finished_at, j.outcome, j.steps)
        .where(j.job == "daily")
        .order_by(j.started_at.desc(), j.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return {
        "id": row.id,
        "job": row.job,
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
        "outcome": row.outcome,
        "steps": [
            {
                "name": s.get("name"),
                "status": s.get("status"),
                "seconds": s.get("seconds"),
                "error": s.get("error"),
            }
            for s in row.steps or []
            if isinstance(s, dict)
        ],
    }


def analyze_run(conn: Connection) -> dict[str, Any] | None:
    r = t.analyze_runs.c
    row = conn.execute(
        select(r.id, r.started_at, r.finished_at, r.as_of, r.outcome, r.persons, r.changed)
        .where(r.scope == "all")
        .order_by(r.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return {
        "id": row.id,
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
        "as_of": iso(row.as_of),
        "outcome": row.outcome,
        "persons": row.persons,
        "changed": row.changed,
    }


# Runs less than this apart belong to one go (the demo's steps, a script's, the daily job's).
RUN_GAP = timedelta(minutes=10)
# Latest rows read per kind when gathering the last go (the demo analyses 27 weeks).
_RUNS_PER_KIND = 60
_KIND_NAMES = {
    "daily": "daily job",
    "sync": "sync",
    "import": "import",
    "analyze": "analyze",
    "push": "push",
}


@dataclass(frozen=True)
class _Run:
    kind: str
    started: datetime
    finished: datetime | None
    outcome: str
    figures: dict[str, int]


def _recent_runs(conn: Connection) -> list[_Run]:
    j, s, e = t.job_runs.c, t.sync_runs.c, t.ecom_imports.c
    a, u = t.analyze_runs.c, t.push_runs.c
    runs: list[_Run] = []
    for r in conn.execute(
        select(j.job, j.started_at, j.finished_at, j.outcome)
        .order_by(j.started_at.desc())
        .limit(_RUNS_PER_KIND)
    ):
        runs.append(_Run(r.job, r.started_at, r.finished_at, r.outcome, {}))
    for rs in conn.execute(
        select(s.started_at, s.finished_at, s.outcome, s.detail)
        .order_by(s.started_at.desc())
        .limit(_RUNS_PER_KIND)
    ):
        changed = (rs.detail or {}).get("changed") if isinstance(rs.detail, dict) else None
        figures = {"changed": changed} if isinstance(changed, int) else {}
        runs.append(_Run("sync", rs.started_at, rs.finished_at, rs.outcome, figures))
    for ri in conn.execute(
        select(e.imported_at, e.orders_new, e.orders_updated)
        .order_by(e.imported_at.desc())
        .limit(_RUNS_PER_KIND)
    ):
        figures = {"orders": ri.orders_new + ri.orders_updated}
        runs.append(_Run("import", ri.imported_at, ri.imported_at, "ok", figures))
    for ra in conn.execute(
        select(a.started_at, a.finished_at, a.outcome, a.persons, a.changed)
        .where(a.scope == "all")
        .order_by(a.started_at.desc())
        .limit(_RUNS_PER_KIND)
    ):
        figures = {"persons": ra.persons, "tier_changes": ra.changed}
        runs.append(_Run("analyze", ra.started_at, ra.finished_at, ra.outcome, figures))
    for ru in conn.execute(
        select(u.started_at, u.finished_at, u.outcome, u.moved, u.dry_run)
        .order_by(u.started_at.desc())
        .limit(_RUNS_PER_KIND)
    ):
        figures = {"moved": ru.moved}
        kind = "push" if not ru.dry_run else "dry-run push"
        runs.append(_Run(kind, ru.started_at, ru.finished_at, ru.outcome, figures))
    return runs


def _inside(run: _Run, group: list[_Run]) -> bool:
    """Whether ``run`` ran within another run of another kind in ``group``."""
    end = run.finished or run.started
    return any(
        other.kind != run.kind
        and other.finished is not None
        and other.started <= run.started
        and end <= other.finished
        for other in group
    )


def last_runs(conn: Connection) -> dict[str, Any] | None:
    """What ran last, of any kind: the daily job, a sync, an eCom import, a full analysis,
    a push, and the runs just before it when they were one go (less than
    :data:`RUN_GAP` apart, as the demo's steps or a script's). None before anything ran.

    ``steps`` lists the kinds in the order they ran, with how many runs of each
    (``analyze`` 9 times for the demo's weekly history), leaving out the runs made inside
    another (the daily job's steps, a push's refresh); ``figures`` adds up what the
    runs did (tier changes, orders imported, groups moved, persons analysed by the last
    analysis)."""
    runs = [r for r in _recent_runs(conn) if r.started is not None]
    if not runs:
        return None
    runs.sort(key=lambda r: r.started, reverse=True)
    group = [runs[0]]
    earliest = runs[0].started
    for run in runs[1:]:
        end = run.finished or run.started
        if earliest - end > RUN_GAP:
            break
        group.append(run)
        earliest = min(earliest, run.started)
    group.reverse()  # oldest first
    steps: list[dict[str, Any]] = []
    for run in group:
        if _inside(run, group):
            continue  # a step of a run around it: the daily job's sync, a push's refresh
        if steps and steps[-1]["kind"] == run.kind:
            steps[-1]["runs"] += 1
        else:
            steps.append({"kind": run.kind, "name": _KIND_NAMES.get(run.kind, run.kind), "runs": 1})
    figures: dict[str, int] = {}
    for run in group:
        for key, value in run.figures.items():
            if key == "persons":
                figures[key] = value  # the last analysis's, not a sum over the weeks
            elif value:
                figures[key] = figures.get(key, 0) + value
    finished = [r.finished for r in group if r.finished is not None]
    outcomes = {r.outcome for r in group}
    bad = sorted(outcomes - {"ok"})
    return {
        "started_at": iso(group[0].started),
        "finished_at": iso(max(finished)) if finished else None,
        "daily": any(r.kind == "daily" for r in group),
        "steps": steps,
        "runs": len(group),
        "outcome": "ok" if not bad else bad[0],
        "figures": figures,
    }
