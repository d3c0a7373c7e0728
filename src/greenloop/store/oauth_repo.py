"""The OAuth connection's row and the connect states (``tables.oauth_connection``,
``tables.oauth_states``). Functions take a connection and never commit: the caller
(``services/connect.py``) owns each transaction, and holds the ``oauth-refresh`` job
lock around a refresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from greenloop.store import tables as t

__all__ = [
    "CONNECTED",
    "NEEDS_RECONNECT",
    "REVOKED",
    "StoredConnection",
    "Tokens",
    "add_state",
    "mark_problem",
    "mark_refresh_started",
    "read_connection",
    "save_connection",
    "save_refreshed",
    "use_state",
]

CONNECTED = "connected"
NEEDS_RECONNECT = "needs_reconnect"
REVOKED = "revoked"
_ROW = 1


@dataclass(frozen=True)
class Tokens:
    """A token pair to store. ``repr`` shows no token."""

    access_token: str
    refresh_token: str
    expires_at: datetime
    lifetime_seconds: int
    domain_prefix: str
    scopes: tuple[str, ...]

    def __repr__(self) -> str:
        return f"Tokens(domain_prefix={self.domain_prefix!r}, expires_at={self.expires_at!r})"


@dataclass(frozen=True)
class StoredConnection:
    """The stored connection. ``repr`` shows no token."""

    domain_prefix: str
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    access_lifetime_seconds: int
    scopes: tuple[str, ...]
    status: str
    problem: str | None
    connected_at: datetime
    refreshed_at: datetime | None
    refreshes: int
    refresh_started_at: datetime | None

    def __repr__(self) -> str:
        return (
            f"StoredConnection(domain_prefix={self.domain_prefix!r}, status={self.status!r}, "
            f"access_expires_at={self.access_expires_at!r})"
        )

    @property
    def usable(self) -> bool:
        return self.status == CONNECTED


def read_connection(conn: Connection) -> StoredConnection | None:
    c = t.oauth_connection.c
    row = conn.execute(select(t.oauth_connection).where(c.id == _ROW)).first()
    if row is None:
        return None
    return StoredConnection(
        domain_prefix=row.domain_prefix,
        access_token=row.access_token,
        refresh_token=row.refresh_token,
        access_expires_at=row.access_expires_at,
        access_lifetime_seconds=row.access_lifetime_seconds,
        scopes=tuple(row.scopes.split()),
        status=row.status,
        problem=row.problem,
        connected_at=row.connected_at,
        refreshed_at=row.refreshed_at,
        refreshes=row.refreshes,
        refresh_started_at=row.refresh_started_at,
    )


def _token_values(tokens: Tokens) -> dict[str, object]:
    return {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "access_expires_at": tokens.expires_at,
        "access_lifetime_seconds": tokens.lifetime_seconds,
        "scopes": " ".join(tokens.scopes),
    }


def save_connection(conn: Connection, tokens: Tokens, now: datetime) -> None:
    """A new connection (after the owner approved) replaces whatever was stored."""
    conn.execute(delete(t.oauth_connection))
    conn.execute(
        insert(t.oauth_connection).values(
            id=_ROW,
            domain_prefix=tokens.domain_prefix,
            status=CONNECTED,
            problem=None,
            connected_at=now,
            refreshed_at=None,
            refreshes=0,
            refresh_started_at=None,
            updated_at=now,
            **_token_values(tokens),
        )
    )


def mark_refresh_started(conn: Connection, now: datetime) -> None:
    """The "refresh in flight" mark, committed before the token endpoint is called."""
    conn.execute(
        update(t.oauth_connection)
        .where(t.oauth_connection.c.id == _ROW)
        .values(refresh_started_at=now, updated_at=now)
    )


def save_refreshed(conn: Connection, tokens: Tokens, now: datetime) -> None:
    """The rotated pair, with the in-flight mark cleared, in the caller's transaction."""
    c = t.oauth_connection.c
    conn.execute(
        update(t.oauth_connection)
        .where(c.id == _ROW)
        .values(
            refresh_started_at=None,
            refreshed_at=now,
            refreshes=c.refreshes + 1,
            updated_at=now,
            status=CONNECTED,
            problem=None,
            **_token_values(tokens),
        )
    )


def mark_problem(conn: Connection, status: str, problem: str, now: datetime) -> None:
    """The connection cannot be used until the owner connects again."""
    conn.execute(
        update(t.oauth_connection)
        .where(t.oauth_connection.c.id == _ROW)
        .values(status=status, problem=problem, refresh_started_at=None, updated_at=now)
    )


def add_state(conn: Connection, state_hash: str, now: datetime, expires_at: datetime) -> None:
    """Remember a connect's state (its hash); forget the ones long past."""
    conn.execute(delete(t.oauth_states).where(t.oauth_states.c.expires_at < now))
    conn.execute(
        insert(t.oauth_states).values(
            state_hash=state_hash, created_at=now, expires_at=expires_at, used_at=None
        )
    )


def use_state(conn: Connection, state_hash: str, now: datetime) -> bool:
    """Spend the state: true once, for a known state not yet used nor expired."""
    c = t.oauth_states.c
    spent = conn.execute(
        update(t.oauth_states)
        .where(c.state_hash == state_hash, c.used_at.is_(None), c.expires_at > now)
        .values(used_at=now)
    ).rowcount
    return spent == 1
