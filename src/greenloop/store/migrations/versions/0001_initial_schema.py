"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 03:22:39.407389
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import greenloop.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_groups",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("group_id", sa.Text(), nullable=True),
        sa.Column("retailer_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("updated_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("deleted_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_groups")),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("customer_code", sa.Text(), nullable=True),
        sa.Column("first_name", sa.Text(), nullable=True),
        sa.Column("last_name", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("mobile", sa.Text(), nullable=True),
        sa.Column("fax", sa.Text(), nullable=True),
        sa.Column("company_name", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("gender", sa.Text(), nullable=True),
        sa.Column("date_of_birth", sa.Text(), nullable=True),
        sa.Column("twitter", sa.Text(), nullable=True),
        sa.Column("website", sa.Text(), nullable=True),
        sa.Column("physical_address_1", sa.Text(), nullable=True),
        sa.Column("physical_address_2", sa.Text(), nullable=True),
        sa.Column("physical_suburb", sa.Text(), nullable=True),
        sa.Column("physical_city", sa.Text(), nullable=True),
        sa.Column("physical_postcode", sa.Text(), nullable=True),
        sa.Column("physical_state", sa.Text(), nullable=True),
        sa.Column("physical_country_id", sa.Text(), nullable=True),
        sa.Column("postal_address_1", sa.Text(), nullable=True),
        sa.Column("postal_address_2", sa.Text(), nullable=True),
        sa.Column("postal_suburb", sa.Text(), nullable=True),
        sa.Column("postal_city", sa.Text(), nullable=True),
        sa.Column("postal_postcode", sa.Text(), nullable=True),
        sa.Column("postal_state", sa.Text(), nullable=True),
        sa.Column("postal_country_id", sa.Text(), nullable=True),
        sa.Column("custom_field_1", sa.Text(), nullable=True),
        sa.Column("custom_field_2", sa.Text(), nullable=True),
        sa.Column("custom_field_3", sa.Text(), nullable=True),
        sa.Column("custom_field_4", sa.Text(), nullable=True),
        sa.Column("customer_group_id", sa.String(length=64), nullable=True),
        sa.Column("enable_loyalty", sa.Boolean(), nullable=False),
        sa.Column("loyalty_balance", greenloop.store.types.Money(), nullable=True),
        sa.Column("year_to_date", greenloop.store.types.Money(), nullable=True),
        sa.Column("balance", greenloop.store.types.Money(), nullable=True),
        sa.Column("on_account_limit", greenloop.store.types.Money(), nullable=True),
        sa.Column("do_not_email", sa.Boolean(), nullable=False),
        sa.Column("created_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("updated_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("deleted_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customers_customer_group_id"), ["customer_group_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_customers_email"), ["email"], unique=False)

    op.create_table(
        "outlets",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("time_zone", sa.Text(), nullable=True),
        sa.Column("currency", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("physical_city", sa.Text(), nullable=True),
        sa.Column("physical_state", sa.Text(), nullable=True),
        sa.Column("physical_country_id", sa.Text(), nullable=True),
        sa.Column("deleted_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outlets")),
    )
    op.create_table(
        "registers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("outlet_id", sa.String(length=64), nullable=True),
        sa.Column("invoice_prefix", sa.Text(), nullable=True),
        sa.Column("invoice_suffix", sa.Text(), nullable=True),
        sa.Column("invoice_sequence", sa.BigInteger(), nullable=True),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registers")),
    )
    op.create_table(
        "retailer",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("domain_prefix", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=True),
        sa.Column("timezone", sa.Text(), nullable=True),
        sa.Column("loyalty_enabled", sa.Boolean(), nullable=False),
        sa.Column("tax_exclusive", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Text(), nullable=True),
        sa.Column("fetched_at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retailer")),
    )
    op.create_table(
        "sales",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("outlet_id", sa.String(length=64), nullable=True),
        sa.Column("register_id", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("invoice_number", sa.Text(), nullable=True),
        sa.Column("receipt_number", sa.Text(), nullable=True),
        sa.Column("invoice_sequence", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("source_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("short_code", sa.Text(), nullable=True),
        sa.Column("return_for", sa.String(length=64), nullable=True),
        sa.Column("total_price", greenloop.store.types.Money(), nullable=False),
        sa.Column("total_tax", greenloop.store.types.Money(), nullable=False),
        sa.Column("total_loyalty", greenloop.store.types.Money(), nullable=False),
        sa.Column("total_price_incl", greenloop.store.types.Money(), nullable=True),
        sa.Column("sale_date", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("created_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("updated_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("deleted_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales")),
    )
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sales_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sales_return_for"), ["return_for"], unique=False)
        batch_op.create_index(batch_op.f("ix_sales_source_id"), ["source_id"], unique=False)

    op.create_table(
        "sync_cursors",
        sa.Column("resource", sa.String(length=40), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("resource", name=op.f("pk_sync_cursors")),
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", greenloop.store.types.UtcDateTime(), nullable=False),
        sa.Column("finished_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("account_type", sa.Text(), nullable=True),
        sa.Column("created_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("updated_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("deleted_at", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_table(
        "sale_line_items",
        sa.Column("sale_id", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=True),
        sa.Column("quantity", greenloop.store.types.Money(), nullable=False),
        sa.Column("price", greenloop.store.types.Money(), nullable=False),
        sa.Column("price_total", greenloop.store.types.Money(), nullable=False),
        sa.Column("tax_total", greenloop.store.types.Money(), nullable=False),
        sa.Column("discount_total", greenloop.store.types.Money(), nullable=False),
        sa.Column("loyalty_value", greenloop.store.types.Money(), nullable=False),
        sa.Column("cost_total", greenloop.store.types.Money(), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("is_return", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["sales.id"],
            name=op.f("fk_sale_line_items_sale_id_sales"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sale_id", "sequence", name=op.f("pk_sale_line_items")),
    )
    op.create_table(
        "sale_payments",
        sa.Column("sale_id", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("retailer_payment_type_id", sa.String(length=64), nullable=True),
        sa.Column("payment_type_id", sa.Text(), nullable=True),
        sa.Column("amount", greenloop.store.types.Money(), nullable=False),
        sa.Column("payment_date", greenloop.store.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["sales.id"],
            name=op.f("fk_sale_payments_sale_id_sales"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sale_id", "sequence", name=op.f("pk_sale_payments")),
    )


def downgrade() -> None:
    op.drop_table("sale_payments")
    op.drop_table("sale_line_items")
    op.drop_table("users")
    op.drop_table("sync_runs")
    op.drop_table("sync_cursors")
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sales_source_id"))
        batch_op.drop_index(batch_op.f("ix_sales_return_for"))
        batch_op.drop_index(batch_op.f("ix_sales_customer_id"))

    op.drop_table("sales")
    op.drop_table("retailer")
    op.drop_table("registers")
    op.drop_table("outlets")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_email"))
        batch_op.drop_index(batch_op.f("ix_customers_customer_group_id"))

    op.drop_table("customers")
    op.drop_table("customer_groups")
