"""Runs of the scheduled jobs (``job_runs``): when each last started."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from greenloop.store import tables as t

__all__ = ["last_job_started"]


def last_job_started(conn: Connection, job: str) -> datetime | None:
    value = conn.execute(
        select(func.max(t.job_runs.c.started_at)).where(t.job_runs.c.job == job)
    ).scalar()
    return value if isinstance(value, datetime) else None
