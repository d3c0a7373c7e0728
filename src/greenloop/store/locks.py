"""Named job locks in the database, so two runs of one job never overlap.

The lock lives in the database rather than a file so that it holds across machines
(two cron hosts, or `serve` plus a manual `run daily`) on PostgreSQL as on SQLite. A
holder that dies leaves its row behind: the next run on the same machine sees the
process is gone and takes the lock over; elsewhere the row expires first.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from greenloop.errors import Busy
from greenloop.store import tables as t

__all__ = ["holder_name", "job_lock"]


def _dead_here(holder: str) -> bool:
    """The holder ran on this machine and its process is gone (killed, crashed)."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@contextmanager
def job_lock(
    engine: Engine,
    name: str,
    *,
    ttl: timedelta,
    holder: str | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Iterator[str]:
    """Hold the lock ``name`` for the block; raise :class:`Busy` if a live run holds it."""
    now = (clock or (lambda: datetime.now(UTC)))()
    me = holder or holder_name()
    lock = t.job_locks
    row = {"name": name, "holder": me, "acquired_at": now, "expires_at": now + ttl}
    try:
        with engine.begin() as conn:
            conn.execute(insert(lock).values(**row))
    except IntegrityError:
        with engine.begin() as conn:
            # An expired lock (or one whose process died here) is taken over; the WHERE
            # clauses make each take-over atomic.
            taken = conn.execute(
                update(lock)
                .where(lock.c.name == name, lock.c.expires_at < now)
                .values(holder=me, acquired_at=now, expires_at=now + ttl)
            ).rowcount
            current = conn.execute(
                select(lock.c.holder, lock.c.acquired_at).where(lock.c.name == name)
            ).first()
            if not taken and current is not None and _dead_here(current.holder):
                taken = conn.execute(
                    update(lock)
                    .where(lock.c.name == name, lock.c.holder == current.holder)
                    .values(holder=me, acquired_at=now, expires_at=now + ttl)
                ).rowcount
            if not taken:
                since = f" since {current.acquired_at:%Y-%m-%d %H:%M} UTC" if current else ""
                who = f" ({current.holder})" if current else ""
                raise Busy(f"another {name} run is in progress{who}{since}") from None
    try:
        yield me
    finally:
        with engine.begin() as conn:
            conn.execute(delete(lock).where(lock.c.name == name, lock.c.holder == me))
