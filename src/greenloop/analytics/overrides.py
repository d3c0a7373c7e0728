"""Manual identity overrides (link, unlink) and tier locks: staff have the last word."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select

from greenloop.domain.identity import normalise_email
from greenloop.errors import NotFound
from greenloop.store import tables as t

__all__ = ["lock_tier", "member_key", "set_override"]


def member_key(conn: Connection, ref: str) -> str:
    """The identity member a reference names: ``customer:<id>``, ``email:<addr>``, a
    customer id, or an eCom buyer's email."""
    text = ref.strip()
    m = t.identity_members.c
    candidates = [text] if ":" in text else []
    candidates.append(f"customer:{text}")
    email = normalise_email(text)
    if email:
        candidates.append(f"email:{email}")
    for key in candidates:
        if conn.execute(select(m.member_key).where(m.member_key == key)).first():
            return key
    if conn.execute(select(t.customers.c.id).where(t.customers.c.id == text)).first():
        return f"customer:{text}"
    raise NotFound(
        f"no profile or eCom buyer '{text}'",
        hint="Give a customer id (see `greenloop customers show`) or an eCom buyer's email, "
        "and run `greenloop analyze` first.",
    )


def set_override(conn: Connection, a: str, b: str, action: str, now: datetime, note: str) -> None:
    """Record ``link`` or ``unlink`` for the pair; the latest word on a pair wins."""
    first, second = sorted((member_key(conn, a), member_key(conn, b)))
    if first == second:
        raise NotFound("both references name the same profile", hint="Give two different ones.")
    o = t.identity_overrides
    conn.execute(delete(o).where(o.c.a == first, o.c.b == second))
    conn.execute(
        o.insert().values(a=first, b=second, action=action, created_at=now, note=note or None)
    )


def lock_tier(
    conn: Connection, person_id: str, tier: str | None, until: datetime, now: datetime, note: str
) -> None:
    lk = t.tier_locks
    conn.execute(delete(lk).where(lk.c.person_id == person_id))
    conn.execute(
        lk.insert().values(
            person_id=person_id, tier=tier, until=until, note=note or None, created_at=now
        )
    )
