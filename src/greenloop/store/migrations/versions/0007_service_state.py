"""service state: small named values the processes share (webhook URL token, session generation)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 08:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import greenloop.store.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_state",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_service_state")),
    )


def downgrade() -> None:
    op.drop_table("service_state")
