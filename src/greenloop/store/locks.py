"""Named job locks in the database, so two runs of one job never overlap.

The lock lives in the database rather than a file so that it holds across machines
(two cron hosts, or `serve` plus a manual `run daily`) on PostgreSQL as on SQLite. A
holder that dies leaves its row behind: the next run on the same machine sees the
process is gone and takes the lock over; elsewhere the row expires first.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from greenloop.errors import Busy
from greenloop.store import tables as t
from greenloop.store.db_errors import describe_db_error

__all__ = ["holder_name", "job_lock", "renew_lock"]

log = logging.getLogger(__name__)

# How often a waiting run tries a held lock again.
_RETRY_SECONDS = 1.0


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


def _take(engine: Engine, name: str, me: str, now: datetime, ttl: timedelta) -> Any:
    """Take the lock if it is free, expired or held by a dead process here. ``None``
    when taken, else the row of the live holder (or ``False``: it vanished meanwhile)."""
    lock = t.job_locks
    row = {"name": name, "holder": me, "acquired_at": now, "expires_at": now + ttl}
    try:
        with engine.begin() as conn:
            conn.execute(insert(lock).values(**row))
        return None
    except IntegrityError:
        pass
    with engine.begin() as conn:
        # An expired lock (or one whose process died here) is taken over; the WHERE
        # clauses make each take-over atomic.
        taken = conn.execute(
            update(lock)
            .where(lock.c.name == name, lock.c.expires_at < now)
            .values(holder=me, acquired_at=now, expires_at=now + ttl)
        ).rowcount
        if taken:
            return None
        current = conn.execute(
            select(lock.c.holder, lock.c.acquired_at).where(lock.c.name == name)
        ).first()
        if current is None:
            return False
        if _dead_here(current.holder):
            taken = conn.execute(
                update(lock)
                .where(lock.c.name == name, lock.c.holder == current.holder)
                .values(holder=me, acquired_at=now, expires_at=now + ttl)
            ).rowcount
            if taken:
                return None
        return current


@contextmanager
def job_lock(
    engine: Engine,
    name: str,
    *,
    ttl: timedelta,
    holder: str | None = None,
    clock: Callable[[], datetime] | None = None,
    wait_seconds: float = 0.0,
    label: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[str]:
    """Hold the lock ``name`` for the block; raise :class:`Busy` if a live run holds it.

    With ``wait_seconds`` a held lock is tried again every second until it frees or
    that time has passed. ``label`` names the job in the message ("another sync is
    running since …"); the default is "<name> run". A long holder keeps its lock
    with :func:`renew_lock`.
    """
    wall = clock or (lambda: datetime.now(UTC))
    me = holder or holder_name()
    deadline = time.monotonic() + max(0.0, wait_seconds)
    while True:
        current = _take(engine, name, me, wall(), ttl)
        if current is None:
            break
        if current is False:  # released between our insert and our look: try again
            continue
        left = deadline - time.monotonic()
        if left <= 0:
            since = current.acquired_at
            raise Busy(
                f"another {label or name + ' run'} is running since "
                f"{since:%Y-%m-%d %H:%M:%S} UTC ({current.holder})"
            ) from None
        sleep(min(_RETRY_SECONDS, left))
    try:
        yield me
    finally:
        try:
            with engine.begin() as conn:
                conn.execute(
                    delete(t.job_locks).where(
                        t.job_locks.c.name == name, t.job_locks.c.holder == me
                    )
                )
        except SQLAlchemyError as exc:
            # The database went away: keep the block's own error. The row is taken over
            # once this process has ended (here) or has expired (elsewhere).
            log.warning("could not release the %s lock: %s", name, describe_db_error(exc))


def renew_lock(conn: Connection, name: str, holder: str, expires_at: datetime) -> bool:
    """Push the lock's expiry to ``expires_at``, in the caller's transaction; False when
    ``holder`` no longer holds it (it was taken over as expired)."""
    lock = t.job_locks
    done = conn.execute(
        update(lock)
        .where(lock.c.name == name, lock.c.holder == holder)
        .values(expires_at=expires_at)
    ).rowcount
    return bool(done)
