"""Alembic environment: the engine comes from GreenLoop (``alembic_config``), never a URL here."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from greenloop.store.engine import compare_type
from greenloop.store.tables import metadata


def run_migrations() -> None:
    engine = context.config.attributes.get("engine")
    if not isinstance(engine, Engine):
        raise RuntimeError("run migrations through greenloop.store.engine.migrate()")
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            compare_type=compare_type,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        context.run_migrations()


run_migrations()
