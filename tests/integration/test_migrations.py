"""Migrations: up, down, up again, and the tables match what the migrations build."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from greenloop.store.engine import (
    MIGRATIONS,
    compare_type,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    migrate,
)
from greenloop.store.tables import metadata


def test_upgrade_downgrade_upgrade(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine)
        assert current_revision(engine) == head_revision()
        downgrade(engine, "base")
        assert current_revision(engine) is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_schema_check_reads_what_alembic_reads(db_url: str) -> None:
    # Commands check the schema without loading Alembic: the head from the migration
    # files and the current revision from alembic_version must be Alembic's own answers.
    assert head_revision() == ScriptDirectory(str(MIGRATIONS)).get_current_head()
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        migrate(engine, "0003")
        with engine.connect() as conn:
            assert (
                current_revision(engine) == MigrationContext.configure(conn).get_current_revision()
            )
        assert current_revision(engine) == "0003"
    finally:
        engine.dispose()


def test_autogenerate_finds_no_difference(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": compare_type})
            diff = compare_metadata(ctx, metadata)
        assert diff == []
    finally:
        engine.dispose()
