"""oauth connection: the add-on's tokens and refresh bookkeeping, and connect states

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 05:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import greenloop.store.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_connection",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("domain_prefix", sa.String(length=100), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=False),
        sa.Column("access_expires_at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.Column("access_lifetime_seconds", sa.Integer(), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("connected_at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.Column("refreshed_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("refreshes", sa.Integer(), nullable=False),
        sa.Column("refresh_started_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("updated_at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_connection")),
    )
    op.create_table(
        "oauth_states",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.Column("expires_at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.Column("used_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_oauth_states")),
    )


def downgrade() -> None:
    op.drop_table("oauth_states")
    op.drop_table("oauth_connection")
