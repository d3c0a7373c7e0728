"""identity matches: pairs scored as probably one person (joined, or waiting for staff)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import greenloop.store.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_matches",
        sa.Column("a", sa.String(length=200), nullable=False),
        sa.Column("b", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("computed_at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.Column("skipped_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("a", "b", name=op.f("pk_identity_matches")),
    )
    with op.batch_alter_table("identity_matches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_matches_b"), ["b"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_identity_matches_kind_probability"),
            ["kind", "probability"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("identity_matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_matches_kind_probability"))
        batch_op.drop_index(batch_op.f("ix_identity_matches_b"))
    op.drop_table("identity_matches")
