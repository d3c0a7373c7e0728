"""person inputs: what each person's last computed row rests on (analytics.carry_over)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 06:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_inputs",
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("carried", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_person_inputs")),
    )


def downgrade() -> None:
    op.drop_table("person_inputs")
