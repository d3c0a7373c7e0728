"""tier events outbox

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 21:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import greenloop.store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tier_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("history_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.Column("sent_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tier_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_tier_events_event_id")),
        sa.UniqueConstraint("history_id", name=op.f("uq_tier_events_history_id")),
    )
    with op.batch_alter_table("tier_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tier_events_status_next_attempt_at"),
            ["status", "next_attempt_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("tier_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tier_events_status_next_attempt_at"))
    op.drop_table("tier_events")
