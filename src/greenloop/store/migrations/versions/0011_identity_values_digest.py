"""identity values digest: each member's digest of its identity values

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: the members stored before it read as changed once, and the next full
    # analysis writes their digests.
    with op.batch_alter_table("identity_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("values_digest", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identity_members", schema=None) as batch_op:
        batch_op.drop_column("values_digest")
