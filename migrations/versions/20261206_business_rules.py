"""Business rules: a reason on a certification above its ceiling, a reason on a payment to
someone other than the contract's contractor, and the programme's preparatory months (how far
before its period a payment may be dated) with a version for If-Match.

Revision ID: b479a202d47e
Revises: a04dc2ce6a72
Create Date: 2026-12-06 16:24:33.308180
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b479a202d47e"
down_revision: str | None = "a04dc2ce6a72"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("disbursement", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("payee_differs_reason", sa.String(length=2000), nullable=True)
        )
    with op.batch_alter_table("milestone", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("certification_reason", sa.String(length=2000), nullable=True)
        )
    with op.batch_alter_table("programme", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("preparatory_months", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.create_check_constraint(
            "preparatory_months", "preparatory_months BETWEEN 0 AND 120"
        )
    # The defaults were for the rows already there; new rows get theirs from the application.
    with op.batch_alter_table("programme", schema=None) as batch_op:
        batch_op.alter_column("preparatory_months", server_default=None)
        batch_op.alter_column("version", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("programme", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_programme_preparatory_months"), type_="check")
        batch_op.drop_column("version")
        batch_op.drop_column("preparatory_months")
    with op.batch_alter_table("milestone", schema=None) as batch_op:
        batch_op.drop_column("certification_reason")
    with op.batch_alter_table("disbursement", schema=None) as batch_op:
        batch_op.drop_column("payee_differs_reason")
