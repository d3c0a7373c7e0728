"""Named values shared between processes through the database (see ``tables.service_state``)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import IntegrityError

from greenloop.store import tables as t

__all__ = ["WEBHOOK_URL_TOKEN", "put_value", "read_value", "write_value"]

# The URL token `webhooks register` made when none is configured; the receiver checks it.
WEBHOOK_URL_TOKEN = "webhooks.url_token"  # noqa: S105 - a name, not the token


def read_value(engine: Engine | Connection, name: str) -> str | None:
    query = select(t.service_state.c.value).where(t.service_state.c.name == name)
    if isinstance(engine, Connection):
        return engine.execute(query).scalar_one_or_none()
    with engine.connect() as conn:
        return conn.execute(query).scalar_one_or_none()


def write_value(engine: Engine, name: str, value: str) -> None:
    """Insert or replace ``name``; one transaction, safe against a concurrent writer."""
    table = t.service_state
    now = datetime.now(UTC)
    with engine.begin() as conn:
        changed = conn.execute(
            update(table).where(table.c.name == name).values(value=value, updated_at=now)
        ).rowcount
        if changed:
            return
    try:
        with engine.begin() as conn:
            conn.execute(table.insert().values(name=name, value=value, updated_at=now))
    except IntegrityError:
        with engine.begin() as conn:
            conn.execute(
                update(table).where(table.c.name == name).values(value=value, updated_at=now)
            )


def put_value(conn: Connection, name: str, value: str) -> None:
    """Insert or replace ``name`` in the caller's transaction (its writer holds the lock
    that keeps others from writing the same name, as a full analysis does)."""
    table = t.service_state
    conn.execute(table.delete().where(table.c.name == name))
    conn.execute(table.insert().values(name=name, value=value, updated_at=datetime.now(UTC)))
