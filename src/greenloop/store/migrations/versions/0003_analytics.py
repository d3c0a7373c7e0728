"""analytics

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 04:54:48.739927
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import greenloop.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analyze_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.Column("finished_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("as_of", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.Column("profiles", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analyze_runs")),
    )
    with op.batch_alter_table("analyze_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_analyze_runs_as_of"), ["as_of"], unique=False)

    op.create_table(
        "identity_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("a", sa.String(length=200), nullable=False),
        sa.Column("b", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_links")),
    )
    with op.batch_alter_table("identity_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_links_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "identity_members",
        sa.Column("member_key", sa.String(length=200), nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("assigned_at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("member_key", name=op.f("pk_identity_members")),
    )
    with op.batch_alter_table("identity_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_members_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_identity_members_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "identity_overrides",
        sa.Column("a", sa.String(length=200), nullable=False),
        sa.Column("b", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("created_at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("a", "b", name=op.f("pk_identity_overrides")),
    )
    op.create_table(
        "identity_values",
        sa.Column("member_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.PrimaryKeyConstraint("member_key", "kind", "value", name=op.f("pk_identity_values")),
    )
    with op.batch_alter_table("identity_values", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_values_kind_value"), ["kind", "value"], unique=False
        )

    op.create_table(
        "persons",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("primary_customer_id", sa.String(length=64), nullable=True),
        sa.Column("customer_code", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("profiles", sa.Integer(), nullable=False),
        sa.Column("profile_ids", sa.JSON(), nullable=False),
        sa.Column("loyalty_enrolled", sa.Boolean(), nullable=False),
        sa.Column("lifetime_value", greenloop.store.types.Money(), nullable=False),
        sa.Column("value_90d", greenloop.store.types.Money(), nullable=False),
        sa.Column("purchases", sa.Integer(), nullable=False),
        sa.Column("purchases_90d", sa.Integer(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("visits_30d", sa.Integer(), nullable=False),
        sa.Column("ecom_value", greenloop.store.types.Money(), nullable=False),
        sa.Column("instore_value", greenloop.store.types.Money(), nullable=False),
        sa.Column("ecom_purchases", sa.Integer(), nullable=False),
        sa.Column("instore_purchases", sa.Integer(), nullable=False),
        sa.Column("returns_value", greenloop.store.types.Money(), nullable=False),
        sa.Column("average_order_value", greenloop.store.types.Money(), nullable=True),
        sa.Column("first_purchase", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("last_purchase", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("average_cycle_days", greenloop.store.types.Money(), nullable=True),
        sa.Column("earned_tier", sa.Text(), nullable=True),
        sa.Column("tier", sa.Text(), nullable=True),
        sa.Column("tier_since", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("review_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("to_next", sa.JSON(), nullable=False),
        sa.Column("keep", sa.JSON(), nullable=False),
        sa.Column("risk", sa.String(length=20), nullable=False),
        sa.Column("drop_at_review", sa.Boolean(), nullable=False),
        sa.Column("p_alive", greenloop.store.types.Money(), nullable=True),
        sa.Column("expected_purchases_90d", greenloop.store.types.Money(), nullable=True),
        sa.Column("predicted_value_12m", greenloop.store.types.Money(), nullable=True),
        sa.Column("computed_at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
    )
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_persons_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_persons_tier"), ["tier"], unique=False)

    op.create_table(
        "placeholders",
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("profiles", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "value", name=op.f("pk_placeholders")),
    )
    op.create_table(
        "tier_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.Column("from_tier", sa.Text(), nullable=True),
        sa.Column("to_tier", sa.Text(), nullable=True),
        sa.Column("change", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tier_history")),
    )
    with op.batch_alter_table("tier_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tier_history_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_tier_history_person_id"), ["person_id"], unique=False)

    op.create_table(
        "tier_locks",
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("tier", sa.Text(), nullable=True),
        sa.Column("until", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_tier_locks")),
    )
    op.create_table(
        "tier_snapshots",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("tier", sa.String(length=100), nullable=False),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "tier", name=op.f("pk_tier_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("tier_snapshots")
    op.drop_table("tier_locks")
    with op.batch_alter_table("tier_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tier_history_person_id"))
        batch_op.drop_index(batch_op.f("ix_tier_history_at"))

    op.drop_table("tier_history")
    op.drop_table("placeholders")
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_persons_tier"))
        batch_op.drop_index(batch_op.f("ix_persons_email"))

    op.drop_table("persons")
    with op.batch_alter_table("identity_values", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_values_kind_value"))

    op.drop_table("identity_values")
    op.drop_table("identity_overrides")
    with op.batch_alter_table("identity_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_members_person_id"))
        batch_op.drop_index(batch_op.f("ix_identity_members_customer_id"))

    op.drop_table("identity_members")
    with op.batch_alter_table("identity_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_links_person_id"))

    op.drop_table("identity_links")
    with op.batch_alter_table("analyze_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analyze_runs_as_of"))

    op.drop_table("analyze_runs")
