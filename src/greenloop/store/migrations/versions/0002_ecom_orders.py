"""ecom orders

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 04:06:38.450257
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import greenloop.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ecom_imports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("imported_at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("orders_new", sa.Integer(), nullable=False),
        sa.Column("orders_updated", sa.Integer(), nullable=False),
        sa.Column("orders_unchanged", sa.Integer(), nullable=False),
        sa.Column("line_items", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ecom_imports")),
    )
    op.create_table(
        "ecom_orders",
        sa.Column("order_number", sa.String(length=64), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("customer_name", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("placed_at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.Column("placed_local", sa.Text(), nullable=False),
        sa.Column("pickup_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("payment_status_code", sa.Text(), nullable=False),
        sa.Column("fulfillment_status_code", sa.Text(), nullable=True),
        sa.Column("payment_method", sa.Text(), nullable=True),
        sa.Column("shipping_method", sa.Text(), nullable=True),
        sa.Column("subtotal", greenloop.store.types.Money(), nullable=True),
        sa.Column("tax", greenloop.store.types.Money(), nullable=True),
        sa.Column("shipping", greenloop.store.types.Money(), nullable=True),
        sa.Column("handling_fee", greenloop.store.types.Money(), nullable=True),
        sa.Column("discount", greenloop.store.types.Money(), nullable=True),
        sa.Column("coupon_code", sa.Text(), nullable=True),
        sa.Column("coupon_discount", greenloop.store.types.Money(), nullable=True),
        sa.Column("gift_card_redemption", greenloop.store.types.Money(), nullable=True),
        sa.Column("total", greenloop.store.types.Money(), nullable=False),
        sa.Column("xseries_order_id", sa.Text(), nullable=True),
        sa.Column("tracking_number", sa.Text(), nullable=True),
        sa.Column("snapshot_at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=False),
        sa.Column("source_line", sa.Integer(), nullable=False),
        sa.Column("first_imported_at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.Column("imported_at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("order_number", name=op.f("pk_ecom_orders")),
    )
    with op.batch_alter_table("ecom_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ecom_orders_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_ecom_orders_placed_at"), ["placed_at"], unique=False)

    op.create_table(
        "ecom_order_items",
        sa.Column("order_number", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sku", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("price", greenloop.store.types.Money(), nullable=False),
        sa.Column("quantity", greenloop.store.types.Money(), nullable=False),
        sa.Column("total", greenloop.store.types.Money(), nullable=False),
        sa.Column("options", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_number"],
            ["ecom_orders.order_number"],
            name=op.f("fk_ecom_order_items_order_number_ecom_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_number", "position", name=op.f("pk_ecom_order_items")),
    )


def downgrade() -> None:
    op.drop_table("ecom_order_items")
    with op.batch_alter_table("ecom_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ecom_orders_placed_at"))
        batch_op.drop_index(batch_op.f("ix_ecom_orders_email"))

    op.drop_table("ecom_orders")
    op.drop_table("ecom_imports")
